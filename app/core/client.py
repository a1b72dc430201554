"""Who is on the other end of the socket: client IP (trusted proxies only) and user agent."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import cache

from starlette.requests import Request

USER_AGENT_MAX = 256


@dataclass(frozen=True)
class ClientInfo:
    ip: str | None
    user_agent: str | None


@cache
def _networks(
    trusted: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in trusted)


def _is_trusted(address: str, trusted: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(trusted))


def _valid_ip(candidate: str) -> str | None:
    try:
        return str(ipaddress.ip_address(candidate.strip()))
    except ValueError:
        return None


def client_ip(request: Request, *, trusted_proxies: tuple[str, ...]) -> str | None:
    """The socket peer, unless it is a trusted proxy: then walk X-Forwarded-For from the right,
    skipping trusted hops, and take the first address a trusted hop vouches for."""
    peer = request.client.host if request.client else None
    if peer is None or not trusted_proxies or not _is_trusted(peer, trusted_proxies):
        return _valid_ip(peer) if peer else None
    forwarded = request.headers.get("x-forwarded-for", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _valid_ip(hop)
        if address is None:
            return _valid_ip(peer)
        if not _is_trusted(address, trusted_proxies):
            return address
    return _valid_ip(hops[0]) if hops else _valid_ip(peer)


def client_info(request: Request, *, trusted_proxies: tuple[str, ...]) -> ClientInfo:
    agent = request.headers.get("user-agent")
    return ClientInfo(
        ip=client_ip(request, trusted_proxies=trusted_proxies),
        user_agent=agent[:USER_AGENT_MAX] if agent else None,
    )
