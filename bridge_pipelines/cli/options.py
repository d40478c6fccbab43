"""Options several commands share: `--timeout` for the calls they make to an ERP."""

from typing import Any

import click

TIMEOUT_OPTION = click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=1),
    default=None,
    metavar="SECONDS",
    help="Give up on an ERP call (retries included) after this long; default: the "
    "connector's (60 s a request, 90 s a call).",
)


def erp_overrides(timeout_s: float | None) -> dict[str, Any]:
    """Client-setting overrides for `build_adapter`: every wait bounded by `timeout_s`."""
    if timeout_s is None:
        return {}
    return {
        "connect_timeout": min(5.0, timeout_s),
        "read_timeout": timeout_s,
        "call_deadline": timeout_s,
        "retry_budget": timeout_s,
    }
