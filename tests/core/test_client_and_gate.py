"""Client IP resolution (trusted proxies only), CORS for the SPA, and admission control."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request

from app.core.client import client_ip
from app.core.config import Environment, load_settings
from app.core.container import Container
from app.core.security import ConcurrencyGate, ServiceBusy
from app.main import create_app


def _request(peer: str, forwarded: str | None = None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request({"type": "http", "client": (peer, 1234), "headers": headers})


def test_socket_peer_is_the_client_without_trusted_proxies() -> None:
    request = _request("203.0.113.9", forwarded="198.51.100.1")
    assert client_ip(request, trusted_proxies=()) == "203.0.113.9"


def test_forwarded_for_is_ignored_from_untrusted_peers() -> None:
    request = _request("203.0.113.9", forwarded="198.51.100.1")
    assert client_ip(request, trusted_proxies=("10.0.0.0/8",)) == "203.0.113.9"


def test_forwarded_for_is_honoured_from_a_trusted_proxy() -> None:
    request = _request("10.0.0.5", forwarded="198.51.100.1")
    assert client_ip(request, trusted_proxies=("10.0.0.0/8",)) == "198.51.100.1"


def test_spoofed_left_entries_do_not_win() -> None:
    """The client may prepend anything; only the hop our proxy appended counts."""
    request = _request("10.0.0.5", forwarded="1.2.3.4, 198.51.100.1, 10.0.0.7")
    assert client_ip(request, trusted_proxies=("10.0.0.0/8",)) == "198.51.100.1"


def test_garbage_forwarded_for_falls_back_to_the_peer() -> None:
    request = _request("10.0.0.5", forwarded="not-an-ip")
    assert client_ip(request, trusted_proxies=("10.0.0.0/8",)) == "10.0.0.5"


def test_ipv6_peers_are_normalised() -> None:
    assert client_ip(_request("2001:DB8::1"), trusted_proxies=()) == "2001:db8::1"


async def test_gate_queues_then_refuses_when_the_wait_is_too_long() -> None:
    gate = ConcurrencyGate(slots=1, max_wait_seconds=0.05)
    async with gate.slot():
        with pytest.raises(ServiceBusy) as caught:
            async with gate.slot():
                pass
    assert caught.value.status == 503
    assert caught.value.headers["Retry-After"] == "1"
    async with gate.slot():  # the slot was released
        pass


async def test_gate_admits_at_most_its_slots_at_once() -> None:
    gate = ConcurrencyGate(slots=2, max_wait_seconds=5)
    running = 0
    peak = 0

    async def work() -> None:
        nonlocal running, peak
        async with gate.slot():
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.01)
            running -= 1

    await asyncio.gather(*(work() for _ in range(10)))
    assert peak == 2


async def test_cors_allows_configured_spa_origin_with_credentials(container: Container) -> None:
    settings = load_settings(
        env=Environment.TEST,
        cors_origins=["https://app.example"],
        database=container.settings.database,
    )
    app = create_app(settings, configure_logs=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://api.example") as http:
        preflight = await http.options(
            "/api/v1/auth/logout",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "x-csrf-token",
            },
        )
        foreign = await http.get("/health", headers={"Origin": "https://evil.example"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert "x-csrf-token" in preflight.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in foreign.headers


def test_only_development_relaxes_the_spa_origins(tmp_path: Path) -> None:
    assert load_settings(env=Environment.TEST).allowed_origins == []
    development = load_settings(env=Environment.DEVELOPMENT, var_dir=tmp_path)
    assert "http://localhost:5173" in development.allowed_origins
    configured = load_settings(
        env=Environment.DEVELOPMENT, var_dir=tmp_path, cors_origins=["https://x.example"]
    )
    assert configured.allowed_origins == ["https://x.example"]
