"""Every tenant in exactly one shard, the same one in every process, few moves when K grows."""

import subprocess
import sys

import pytest

from bridge_pipelines.errors import ConfigError, FieldProblem
from bridge_pipelines.tenants.shards import Shard, assign, parse_shard_name, select, shard_of

IDS = [f"tenant_{n:04d}" for n in range(1000)]


@pytest.mark.parametrize("count", [1, 2, 3, 8])
def test_the_shards_partition_the_tenants(count: int) -> None:
    shards = assign(IDS, count)
    assert sorted(t for ids in shards.values() for t in ids) == IDS
    for index, ids in shards.items():
        assert all(Shard(index, count).holds(t) for t in ids)
        assert not any(
            Shard(other, count).holds(t) for t in ids for other in shards if other != index
        )
    # Balanced enough that no location carries twice its share.
    assert max(len(ids) for ids in shards.values()) < 2 * len(IDS) / count


def test_the_assignment_is_the_same_in_another_process() -> None:
    """Python's `hash()` of a str changes per process; the shard must not."""
    probe = "from bridge_pipelines.tenants.shards import shard_of; " + (
        "print([shard_of(f'tenant_{n:04d}', 8) for n in range(50)])"
    )
    other = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert other == str([shard_of(t, 8) for t in IDS[:50]])


def test_adding_tenants_moves_none_and_growing_k_moves_about_one_in_k_plus_one() -> None:
    before = {t: shard_of(t, 8) for t in IDS[:500]}
    assert {t: shard_of(t, 8) for t in IDS[:500]} == before  # more tenants elsewhere: no effect
    after = {t: shard_of(t, 9) for t in IDS}
    moved = [t for t in IDS if shard_of(t, 8) != after[t]]
    assert all(after[t] == 9 for t in moved)  # a tenant only ever moves to the new shard
    assert 0.05 < len(moved) / len(IDS) < 0.2  # ~1/9, not a reshuffle


def test_a_broken_file_belongs_to_the_shard_of_its_name() -> None:
    problems = [FieldProblem(f"/t/{t}.yaml", "sftp.port", "too big") for t in IDS[:40]]
    held = [select(Shard(i, 4), [], problems)[1] for i in range(1, 5)]
    assert sorted(p.file for part in held for p in part) == sorted(p.file for p in problems)


@pytest.mark.parametrize("text", ["0/4", "5/4", "3", "a/b", "1/0", "1/999"])
def test_a_wrong_shard_setting_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match=r"shard|BRIDGE_SHARD"):
        Shard.parse(text)


def test_shard_names_round_trip() -> None:
    assert Shard.parse(" 3/8 ") == Shard(3, 8) == parse_shard_name("shard_3_of_8")
    assert parse_shard_name(Shard(3, 8).name) == Shard(3, 8)
    assert parse_shard_name("defs") is None
