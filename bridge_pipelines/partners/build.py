"""Building one partner file from a window of SYSPRO rows: bytes, rows, totals, hash.

The same window, partner mapping and control number always give the same bytes: nothing here
reads the clock (X12's date and time are the window's newest `ChangedAt`).
"""

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from bridge_pipelines.partners.models import Partner, PartnerFile
from bridge_pipelines.partners.periods import Period
from bridge_pipelines.partners.records import InvoiceLine, PoLine, Row
from bridge_pipelines.partners.translate import Translator
from bridge_pipelines.partners.writers.base import LINE_ENDINGS, BuiltFile
from bridge_pipelines.partners.writers.delimited import write_csv
from bridge_pipelines.partners.writers.fixed_width import write_fixed_width
from bridge_pipelines.partners.writers.x12 import Envelope, write_810, write_830


def file_key(spec: PartnerFile) -> str:
    """The ledger's name for one of a partner's files: dataset and format (`gl_journal.csv`)."""
    return f"{spec.dataset}.{spec.format}"


def remote_name(spec: PartnerFile, partner: Partner, tenant: str, period: Period, seq: int) -> str:
    """The file's name on the partner's server, from the partner's naming template."""
    return spec.name.format(
        partner=partner.id, dataset=spec.dataset, period=period.compact, seq=seq, tenant=tenant
    )


def stamp(moment: datetime) -> str:
    """The `ChangedAt` form of a moment: UTC to the second, `YYYY-MM-DDTHH:MM:SSZ`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_stamp(changed_at: str) -> datetime:
    """`2026-11-30T18:00:00Z` as an aware UTC datetime."""
    return datetime.strptime(changed_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


class Tracked:
    """Rows passed through, counting them and keeping the newest `ChangedAt`."""

    def __init__(self, rows: Iterable[Row]) -> None:
        self._rows = rows
        self.newest: str | None = None
        self.count = 0

    def __iter__(self) -> Iterator[Row]:
        for row in self._rows:
            self.count += 1
            if self.newest is None or row.changed_at > self.newest:
                self.newest = row.changed_at
            yield row


@dataclass(frozen=True)
class Built:
    """A built file and what the ledger records of it."""

    file: BuiltFile
    sha256: str
    newest: str | None


def build_file(
    spec: PartnerFile,
    partner: Partner,
    rows: Iterable[Row],
    *,
    name: str,
    period: Period,
    suppliers: Mapping[str, str],
    buyer_name: str,
    control_number: int | None,
) -> Built:
    """The file's bytes from `rows` (in the order the reader gives them).

    Raises:
        UnmappedCodeError: an account or cost centre has no mapping (nothing is returned).
        BadInputError: a value does not fit the layout or the encoding (row and field named).
    """
    translator = Translator(dict(partner.accounts), dict(partner.cost_centres))
    if spec.format in ("x12_810", "x12_830"):
        listed = list(rows)
        newest = max((r.changed_at for r in listed), default=None)
        assert partner.x12 is not None and control_number is not None
        envelope = Envelope(
            partner.x12, control_number, parse_stamp(newest or "1970-01-01T00:00:00Z")
        )
        ending = LINE_ENDINGS[spec.line_ending]
        if spec.format == "x12_810":
            built = write_810(
                cast(list[InvoiceLine], listed), envelope, suppliers, buyer_name, name, ending
            )
        else:
            built = write_830(cast(list[PoLine], listed), envelope, suppliers, period, name, ending)
    else:
        tracked = Tracked(rows)
        writer = write_csv if spec.format == "csv" else write_fixed_width
        built = writer(spec, tracked, translator, suppliers, name)
        newest = tracked.newest
    translator.check(name, partner.id)
    return Built(built, hashlib.sha256(built.data).hexdigest(), newest)
