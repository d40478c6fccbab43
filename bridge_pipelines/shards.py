"""One code location per shard of the tenants: `-m bridge_pipelines.shards -a shard_3_of_8`.

Dagster's workspace file cannot give one `python_module` location its own environment, so
the shard is named by the attribute instead of `BRIDGE_SHARD`: each attribute
`shard_<i>_of_<k>` is built on first access (module `__getattr__`), and only the one the
location asks for, so a location never builds the other shards' tenants. `bridge workspace`
writes the workspace file that lists them.
"""

from functools import cache

import dagster as dg

from bridge_pipelines.defs import build_defs
from bridge_pipelines.errors import ConfigError
from bridge_pipelines.redaction import install_redaction
from bridge_pipelines.tenants.shards import parse_shard_name

install_redaction()


@cache
def _build(name: str) -> dg.Definitions:
    shard = parse_shard_name(name)
    if shard is None:
        raise AttributeError(name)
    return build_defs(shard=shard)


def __getattr__(name: str) -> dg.Definitions:
    """`shard_3_of_8`: the definitions of the third of eight shards (built once)."""
    try:
        return _build(name)
    except ConfigError as exc:  # shard_9_of_8: not an attribute, say why
        raise AttributeError(f"{name}: {exc}") from exc
