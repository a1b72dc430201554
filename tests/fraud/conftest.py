"""Fraud tests see client IPs: the test client's socket peer (127.0.0.1) is a trusted proxy, so
a test sets the customer's address with `X-Forwarded-For` (see `helpers.from_ip`), and maps
public addresses to countries through the `country_table` fixture."""

from __future__ import annotations

import pytest

from app.core.config import Settings


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    return base_settings.model_copy(update={"trusted_proxies": ["127.0.0.1/32"]})
