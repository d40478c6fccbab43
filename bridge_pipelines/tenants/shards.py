"""Which code location loads which tenants: `BRIDGE_SHARD="3/8"` is the third of eight.

Past a few hundred tenants one process building every tenant's definitions is slow to load
and to reload (issue 19, point 5), so the tenants are split over K code locations, each its
own process. A tenant's shard is chosen by rendezvous (highest-random-weight) hashing of its
id: the assignment needs no table, is the same in every process (blake2b, not `hash()`), a
new tenant never moves the others, and growing K to K+1 moves only about 1/(K+1) of them
(those whose highest weight is the new shard's).
"""

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bridge_pipelines.errors import ConfigError, FieldProblem
from bridge_pipelines.settings import get_settings
from bridge_pipelines.tenants.models import TenantConfig

_SHARD_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
MAX_SHARDS = 256


def _weight(tenant_id: str, shard: int) -> bytes:
    return hashlib.blake2b(f"{shard}:{tenant_id}".encode(), digest_size=8).digest()


def shard_of(tenant_id: str, count: int) -> int:
    """The shard (1..count) that holds `tenant_id`."""
    if not 1 <= count <= MAX_SHARDS:
        raise ConfigError(f"shard count must be 1..{MAX_SHARDS}, not {count}")
    return max(range(1, count + 1), key=lambda shard: _weight(tenant_id, shard))


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (1-based, as operators count them)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_SHARDS or not 1 <= self.index <= self.count:
            raise ConfigError(
                f"shard {self.index}/{self.count}: need 1 <= index <= count <= {MAX_SHARDS}"
            )

    @classmethod
    def parse(cls, text: str) -> "Shard":
        """`"3/8"` -> Shard(3, 8).

        Raises:
            ConfigError: not `<index>/<count>` with 1 <= index <= count.
        """
        match = _SHARD_RE.match(text)
        if match is None:
            raise ConfigError(f"BRIDGE_SHARD must look like 3/8 (third of eight), not {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    def holds(self, tenant_id: str) -> bool:
        """Whether this shard's code location loads `tenant_id` (a file stem for a broken file)."""
        return self.count == 1 or shard_of(tenant_id, self.count) == self.index

    @property
    def name(self) -> str:
        """`shard_3_of_8`: the attribute of `bridge_pipelines.shards` and the location suffix."""
        return f"shard_{self.index}_of_{self.count}"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard_name(name: str) -> Shard | None:
    """`shard_3_of_8` -> Shard(3, 8); None for any other name."""
    match = re.fullmatch(r"shard_(\d+)_of_(\d+)", name)
    return Shard(int(match.group(1)), int(match.group(2))) if match else None


def assign(tenant_ids: list[str], count: int) -> dict[int, list[str]]:
    """Every shard 1..count with its tenants (sorted), empty shards included."""
    shards: dict[int, list[str]] = {i: [] for i in range(1, count + 1)}
    for tenant_id in sorted(tenant_ids):
        shards[shard_of(tenant_id, count)].append(tenant_id)
    return shards


def configured_shard() -> Shard | None:
    """`BRIDGE_SHARD` parsed, None when unset (one location loads every tenant)."""
    text = get_settings().shard
    return Shard.parse(text) if text else None


def select(
    shard: Shard, tenants: Sequence[TenantConfig], problems: Sequence[FieldProblem]
) -> tuple[list[TenantConfig], list[FieldProblem]]:
    """The shard's tenants, and the problems of the files it holds (by file stem).

    A broken file belongs to the shard of its file name, so its failing placeholder appears
    in exactly one location, the one that will load it once it is fixed.
    """
    return (
        [t for t in tenants if shard.holds(t.id)],
        [p for p in problems if shard.holds(Path(p.file).stem)],
    )
