"""Offline IP-to-country: private, loopback and link-local addresses have no country; the
bundled dataset resolves public IPv4 and IPv6; a configured database file must exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.config import Settings, SettingsError
from app.core.container import Container
from app.core.crypto import CryptoKit
from app.core.db import Database
from app.fraud.geo import BundledLookup, GeoIpLocator, StaticLookup, build_locator
from tests.fraud.helpers import IP_US, IPV6_DE


@pytest.fixture(scope="module")
def bundled() -> GeoIpLocator:
    return GeoIpLocator(BundledLookup())


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3",  # private
        "192.168.0.10",  # private
        "172.16.5.4",  # private
        "127.0.0.1",  # loopback
        "::1",  # IPv6 loopback
        "fe80::1ff:fe23:4567:890a",  # IPv6 link-local
        "fd12:3456:789a::1",  # IPv6 unique local
        "169.254.10.20",  # IPv4 link-local
        "100.64.0.1",  # carrier-grade NAT
        "203.0.113.7",  # documentation range
        "::ffff:10.0.0.1",  # a private IPv4 address as a dual-stack socket reports it
    ],
)
def test_non_public_addresses_have_no_country(bundled: GeoIpLocator, address: str) -> None:
    # Even a lookup that claims a country for them is never asked.
    claims_everything = GeoIpLocator(StaticLookup({address: "US"}))

    for locator in (bundled, claims_everything):
        location = locator.locate(address)
        assert location.country is None
        assert location.is_public is False


@pytest.mark.parametrize("address", [None, "", "not-an-ip", "999.1.1.1"])
def test_missing_or_malformed_addresses_have_no_country(
    bundled: GeoIpLocator, address: str | None
) -> None:
    location = bundled.locate(address)
    assert location.country is None
    assert location.is_public is False


def test_bundled_dataset_resolves_public_ipv4(bundled: GeoIpLocator) -> None:
    location = bundled.locate(IP_US)
    assert location.country == "US"
    assert location.is_public is True


def test_bundled_dataset_resolves_public_ipv6(bundled: GeoIpLocator) -> None:
    location = bundled.locate(IPV6_DE)
    assert location.country == "DE"
    assert location.is_public is True


def test_ipv4_mapped_ipv6_address_is_located_as_its_ipv4_address(bundled: GeoIpLocator) -> None:
    location = bundled.locate(f"::ffff:{IP_US}")
    assert location.country == "US"
    assert location.is_public is True


def test_without_a_database_setting_the_bundled_dataset_is_used() -> None:
    assert build_locator(None).locate(IP_US).country == "US"


def test_missing_geoip_database_file_is_a_settings_error(tmp_path: Path) -> None:
    missing = tmp_path / "GeoLite2-Country.mmdb"
    with pytest.raises(SettingsError, match="HOSTLEDGER_GEOIP_DATABASE"):
        build_locator(missing)
    with pytest.raises(SettingsError, match="HOSTLEDGER_GEOIP_DATABASE"):
        build_locator(tmp_path)  # a directory is no database file either


async def test_app_container_refuses_to_start_with_a_missing_geoip_database(
    settings: Settings, tmp_path: Path
) -> None:
    configured = settings.model_copy(update={"geoip_database": tmp_path / "missing.mmdb"})
    database = Database.from_settings(configured.database)
    try:
        with pytest.raises(SettingsError, match="HOSTLEDGER_GEOIP_DATABASE"):
            Container(settings=configured, database=database, crypto=CryptoKit(configured.secrets))
    finally:
        await database.dispose()


def test_geoip_database_setting_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from app.core.config import Environment, load_settings

    path = tmp_path / "country.mmdb"
    monkeypatch.setenv("HOSTLEDGER_GEOIP_DATABASE", str(path))
    assert load_settings(env=Environment.TEST).geoip_database == path


def _write_country_database(path: Path, networks: dict[str, dict[str, object]]) -> Path:
    """A real MaxMind DB file (the format GeoLite2-Country.mmdb has), written by mmdb-writer."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=6, database_type="GeoLite2-Country", ipv4_compatible=True)
    for network, record in networks.items():
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return path


def test_a_configured_maxmind_database_file_is_read(tmp_path: Path) -> None:
    path = _write_country_database(
        tmp_path / "GeoLite2-Country.mmdb",
        {
            "81.2.69.0/24": {"country": {"iso_code": "GB"}},
            "2a02:2e0::/32": {"country": {"iso_code": "DE"}},
        },
    )

    locator = build_locator(path)

    assert locator.locate("81.2.69.160").country == "GB"
    assert locator.locate("2a02:2e0:3fe:1001:302::").country == "DE"
    assert locator.locate("::ffff:81.2.69.160").country == "GB"
    assert locator.locate("8.8.8.8").country is None  # not in this file: no guess
    assert locator.locate("10.0.0.1").country is None  # never asked about private space


def test_a_registered_country_is_used_when_the_record_has_no_country(tmp_path: Path) -> None:
    # Anonymous proxies and satellite providers carry only a registered country.
    path = _write_country_database(
        tmp_path / "countries.mmdb",
        {"81.2.69.0/24": {"registered_country": {"iso_code": "NL"}}},
    )
    assert build_locator(path).locate("81.2.69.160").country == "NL"
