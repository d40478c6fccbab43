"""Deciding what one folder listing means, before anything is written.

A delivery is (tenant, folder, name, size, mtime). Names are not unique over time: a partner
overwrites `invoices_daily.csv` every day, and each version is a file of its own. Only a
`seen` delivery (still settling) follows its name as the size and mtime change.

A `seen` delivery that leaves the listing before it settles (a temp name renamed, a file
withdrawn) is forgotten: its row is deleted, with an audit event saying why. Nothing was taken
from it, and if the same bytes come back they must be observed afresh rather than stay
blocked behind a terminal row.

This module is pure (no database) so the rules can be read, and tested, in one place.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bridge_pipelines.ledger.states import FileState

DISAPPEARED = "disappeared from the listing before it settled"


@dataclass(frozen=True)
class KnownFile:
    """What the ledger already holds for a listed name (or a settling file of the folder)."""

    id: int
    kind: str
    name: str
    size: int
    mtime: int
    state: FileState
    observed_at: datetime


@dataclass(frozen=True)
class Vanish:
    """A stable file whose bytes are gone: `vanished`, if still `stable` at write time."""

    file: KnownFile
    reason: str


@dataclass(frozen=True)
class Forget:
    """A `seen` row to delete, if still `seen` at write time (the reason goes to the audit)."""

    file: KnownFile
    reason: str


@dataclass
class ListingPlan:
    """The writes one listing calls for."""

    new: list[tuple[str, int, int]] = field(default_factory=list)
    changed: list[tuple[KnownFile, int, int]] = field(default_factory=list)
    settled: list[KnownFile] = field(default_factory=list)
    vanish: list[Vanish] = field(default_factory=list)
    forget: list[Forget] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.new or self.changed or self.settled or self.vanish or self.forget)


def plan_listing(
    known: Iterable[KnownFile],
    listed: Mapping[str, tuple[int, int]],
    *,
    kind: str,
    now: datetime,
    settle: timedelta,
    complete: bool,
) -> ListingPlan:
    """Compare a listing (name -> (size, mtime)) with what the ledger knows.

    - A new (name, size, mtime): a new `seen` delivery, unless the name's `seen` delivery is
      still settling: then that one changed, and its settle clock restarts.
    - A `seen` delivery unchanged for `settle` since it was last seen changing: `settled`.
    - A delivery already stable or beyond listed again: the same file, nothing to do.
    - A new delivery under a name whose previous one is only `stable`: the old bytes were
      overwritten before download, so the old one vanished.
    - With `complete`, a `seen` delivery of this kind missing from the listing is forgotten.
    """
    by_name: dict[str, list[KnownFile]] = {}
    for row in known:
        by_name.setdefault(row.name, []).append(row)
    plan = ListingPlan()
    for name, (size, mtime) in listed.items():
        rows = by_name.get(name, [])
        settling = next((r for r in rows if r.state == FileState.SEEN), None)
        same = next((r for r in rows if (r.size, r.mtime) == (size, mtime)), None)
        if same is not None:
            if same.state == FileState.SEEN:
                if now - same.observed_at >= settle:
                    plan.settled.append(same)
            elif settling is not None:
                # Changed, then back to an older delivery's size and mtime: that one it is.
                reason = f"listing shows file #{same.id} again (same size and mtime)"
                plan.forget.append(Forget(settling, reason))
            continue
        if settling is not None:
            plan.changed.append((settling, size, mtime))
            continue
        plan.new.append((name, size, mtime))
        reason = (
            "replaced on the server by a new delivery of the same name "
            f"(size {size}, mtime {mtime}) before it was downloaded"
        )
        plan.vanish.extend(Vanish(r, reason) for r in rows if r.state == FileState.STABLE)
    if complete:
        plan.forget.extend(
            Forget(r, DISAPPEARED)
            for rows in by_name.values()
            for r in rows
            if r.state == FileState.SEEN and r.kind == kind and r.name not in listed
        )
    return plan
