"""The server freezes what it built at startup, so full garbage collections skip it."""

from __future__ import annotations

import gc

from app.core.config import Settings
from app.main import create_app


async def test_serving_starts_with_the_app_frozen_out_of_full_collections(
    settings: Settings,
) -> None:
    app = create_app(settings, configure_logs=False)
    gc.unfreeze()
    try:
        async with app.router.lifespan_context(app):
            # Everything alive at startup, the app's own routes among them.
            assert gc.get_freeze_count() > 10_000
            assert all(tracked is not app for tracked in gc.get_objects(generation=2))
    finally:
        gc.unfreeze()
