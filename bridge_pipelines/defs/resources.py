"""The one resource every asset and sensor receives: access to the intake context.

It carries no configuration and no secrets: run config and tags stay clean (reliability P6).
"""

from functools import lru_cache

import dagster as dg

from bridge_pipelines.intake.runtime import Runtime
from bridge_pipelines.settings import Settings, bridge_env, get_settings


@lru_cache(maxsize=4)
def _context_for(settings: Settings) -> Runtime:
    # One per process and settings: the code server keeps SFTP connections warm across ticks.
    return Runtime(settings=settings)


@lru_cache(maxsize=4)
def _settings_for(env: tuple[tuple[str, str], ...]) -> Settings:
    # Building `Settings` costs milliseconds of CPU, and every sensor tick asks (profiled by
    # `python -m bench sensor_cost`); the `BRIDGE_*` variables decide it, so they are the key.
    return get_settings()


class BridgeResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Ledger, keyring, archive and pooled SFTP connections of this process."""

    def intake(self) -> Runtime:
        return _context_for(_settings_for(bridge_env()))
