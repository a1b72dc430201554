"""Offline IP-to-country for IPv4 and IPv6: never a network call.

A MaxMind-format country database when `HOSTLEDGER_GEOIP_DATABASE` points at one (GeoLite2 or
GeoIP2 Country, read with `maxminddb`), otherwise the GeoLite2-derived dataset bundled with the
`geoip2fast` package. Private, loopback, link-local, reserved and unknown addresses have no
country: the location rules then abstain instead of firing.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from app.core.config import SettingsError

BUNDLED_DATASET = "geoip2fast-ipv6.dat.gz"  # IPv4 and IPv6 countries in one file


@dataclass(frozen=True, slots=True)
class IpLocation:
    """`country` is an ISO 3166-1 alpha-2 code, or None when the address has no public one."""

    country: str | None
    is_public: bool


NOWHERE = IpLocation(country=None, is_public=False)


class CountryLookup(Protocol):
    def country_of(self, address: str) -> str | None: ...


class GeoIpLocator:
    """Classifies the address, then asks the country lookup only for public ones."""

    def __init__(self, lookup: CountryLookup) -> None:
        self._lookup = lookup

    def locate(self, address: str | None) -> IpLocation:
        if not address:
            return NOWHERE
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            return NOWHERE
        # A dual-stack socket reports IPv4 clients as `::ffff:a.b.c.d`: look up the IPv4 address
        # (the datasets key IPv4 space by IPv4 addresses, not by their mapped form).
        if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
            parsed = parsed.ipv4_mapped
        if not parsed.is_global:
            return NOWHERE
        country = self._lookup.country_of(str(parsed))
        return IpLocation(country=country, is_public=True)


class MaxMindLookup:
    """A GeoLite2/GeoIP2 Country (or City) database file."""

    def __init__(self, path: Path) -> None:
        import maxminddb

        self._reader = maxminddb.open_database(str(path))

    def country_of(self, address: str) -> str | None:
        record: Any = self._reader.get(address)
        if not isinstance(record, Mapping):
            return None
        for key in ("country", "registered_country"):
            entry = record.get(key)
            if isinstance(entry, Mapping) and isinstance(entry.get("iso_code"), str):
                return str(entry["iso_code"])
        return None


class BundledLookup:
    """geoip2fast's bundled dataset, loaded once per process on first use (about 0.3 s)."""

    _lock = threading.Lock()

    def __init__(self) -> None:
        self._reader: Any = None

    def _loaded(self) -> Any:
        if self._reader is None:
            with self._lock:
                if self._reader is None:
                    self._reader = _bundled_reader()
        return self._reader

    def country_of(self, address: str) -> str | None:
        result = self._loaded().lookup(address)
        code = getattr(result, "country_code", None)
        if not isinstance(code, str) or len(code) != 2 or not code.isalpha():
            return None  # "--" and friends: not in the dataset
        return code.upper()


@cache
def _bundled_reader() -> Any:
    from geoip2fast import GeoIP2Fast

    return GeoIP2Fast(geoip2fast_data_file=BUNDLED_DATASET)


class StaticLookup:
    """A table, for tests and local setups: {"81.2.69.160": "GB"} (read live, not copied)."""

    def __init__(self, countries: Mapping[str, str]) -> None:
        self._countries = countries

    def country_of(self, address: str) -> str | None:
        return self._countries.get(address)


def build_locator(database: Path | None) -> GeoIpLocator:
    if database is not None:
        if not database.is_file():
            raise SettingsError(f"HOSTLEDGER_GEOIP_DATABASE: no file at {database}")
        return GeoIpLocator(MaxMindLookup(database))
    return GeoIpLocator(_shared_bundled_lookup())


@cache
def _shared_bundled_lookup() -> BundledLookup:
    return BundledLookup()
