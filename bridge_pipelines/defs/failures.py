"""Configuration errors fail a run once: Dagster's retry policy never repeats them.

A wrong password, a changed host key or a broken tenant file does not heal by waiting, and a
retry would only lock the account or hide the message behind attempts. Any other error keeps
the asset's retry policy.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from bridge_pipelines.errors import ConfigError
from bridge_pipelines.redaction import redact


@contextmanager
def config_errors_not_retried(tenant_id: str) -> Iterator[None]:
    """Turn a `ConfigError` into a `dg.Failure` that Dagster does not retry."""
    try:
        yield
    except ConfigError as exc:
        raise dg.Failure(
            description=f"tenant {tenant_id}: configuration error (not retried): "
            f"{redact(str(exc))}; fix it, then `bridge tenants check` and `bridge ping "
            f"{tenant_id}`",
            metadata={"tenant": tenant_id, "error": type(exc).__name__},
            allow_retries=False,
        ) from None
