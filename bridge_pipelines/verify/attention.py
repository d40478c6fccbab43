"""Quarantined files that still need a person, and what could be read of them.

A quarantined file is terminal for the pipeline but not for the business: the invoices in it
were never recorded. It needs attention until either

- it is **replaced**: an operator says which parsed file is the corrected export
  (`bridge files replace`), or, detected on its own, later parsed files of the same kind hold
  every invoice (vendor and number) that could be read from the refused file. Detection needs
  at least one invoice read, so a file nothing could be read from is never replaced silently;
- or it is **dismissed** by an operator with a reason (`bridge files dismiss`).

Both decisions are audit events (`ledger.attention`); the raw copy is read from the archive,
best-effort (`stampli.salvage`).
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge_pipelines.ledger.attention import DISMISSED, FileDecision
from bridge_pipelines.ledger.models import FileRow, RecordRow
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.ledger.states import FileState
from bridge_pipelines.stampli.salvage import SalvagedInvoice, salvage_invoices
from bridge_pipelines.tenants.models import TenantConfig


@dataclass
class QuarantinedFile:
    """A quarantined file, what could be read of it, and whether it still needs a person."""

    file: FileRow
    invoices: list[SalvagedInvoice]
    readable: bool
    decision: FileDecision | None = None
    replaced_by: list[FileRow] = field(default_factory=list)

    @property
    def status(self) -> str:
        """`dismissed`, `replaced` (by an operator or detected) or `needs_attention`."""
        if self.decision is not None:
            return "dismissed" if self.decision.event == DISMISSED else "replaced"
        return "replaced" if self.replaced_by else "needs_attention"

    @property
    def needs_attention(self) -> bool:
        return self.status == "needs_attention"

    def to_dict(self) -> dict[str, Any]:
        f = self.file
        return {
            "file_id": f.id,
            "kind": f.kind,
            "folder": f.folder,
            "name": f.name,
            "reason": f.reason,
            "status": self.status,
            "raw_copy": f.archive_path if self.readable else None,
            "invoices": [
                {
                    "invoice_name": i.name,
                    "vendor": i.vendor,
                    "vendor_name": i.vendor_name,
                    "invoice_number": i.number,
                    "stampli_id": i.stampli_id,
                }
                for i in self.invoices
            ],
            "decision": None
            if self.decision is None
            else {
                "event": self.decision.event,
                "reason": self.decision.reason,
                "actor": self.decision.actor,
                "at": self.decision.at.isoformat(),
                "replaced_by": self.decision.replaced_by,
            },
            "replaced_by": [{"file_id": r.id, "name": r.name} for r in self.replaced_by],
        }


def _read(file: FileRow, tenant: TenantConfig | None) -> tuple[list[SalvagedInvoice], bool]:
    if not file.archive_path:
        return [], False
    try:
        data = Path(file.archive_path).read_bytes()
    except OSError:
        return [], False
    if file.kind != "invoices":
        return [], True
    renames = tenant.templates.invoices.columns if tenant is not None else {}
    return salvage_invoices(data, renames), True


def _keys(records: Sequence[RecordRow]) -> set[tuple[str, str]]:
    return {
        (str(r.payload.get("vendor_id")), str(r.payload.get("invoice_number")))
        for r in records
        if r.payload.get("vendor_id") and r.payload.get("invoice_number")
    }


def quarantined_files(
    ledger: Ledger,
    tenant_id: str,
    *,
    tenant: TenantConfig | None = None,
    files: Sequence[FileRow] | None = None,
) -> list[QuarantinedFile]:
    """Every quarantined file of the tenant (of `files` when given), read and judged."""
    every = ledger.files(tenant_id)
    chosen = files if files is not None else every
    quarantined = [f for f in chosen if f.state == FileState.QUARANTINED]
    if not quarantined:
        return []
    decisions = ledger.file_decisions(tenant_id)
    parsed = [f for f in every if f.state == FileState.PARSED]
    by_file: dict[int, list[RecordRow]] = defaultdict(list)
    if parsed:
        for record in ledger.records(tenant_id, kind="invoices"):
            by_file[record.file_id].append(record)
    out = []
    for f in quarantined:
        invoices, readable = _read(f, tenant)
        item = QuarantinedFile(f, invoices, readable, decisions.get(f.id))
        wanted = {i.key for i in invoices if i.key is not None}
        if wanted:
            later = [p for p in parsed if p.id > f.id and p.kind == f.kind]
            holding = [p for p in later if wanted & _keys(by_file[p.id])]
            found = set().union(*(_keys(by_file[p.id]) for p in holding)) if holding else set()
            if wanted <= found:
                item.replaced_by = holding
        out.append(item)
    return out


def attention_message(item: QuarantinedFile) -> str:
    """One sentence for `bridge verify`: the file, why, what was in it, what to do."""
    f = item.file
    if item.invoices:
        shown = ", ".join(i.name for i in item.invoices[:3])
        more = f" and {len(item.invoices) - 3} more" if len(item.invoices) > 3 else ""
        held = f"; it held {len(item.invoices)} invoice(s): {shown}{more}"
    elif item.readable:
        held = "; no invoice could be read from it"
    else:
        held = "; no raw copy to read"
    return (
        f"file #{f.id} {f.folder}/{f.name} is quarantined ({f.reason or 'no reason'}){held}: "
        f"have Stampli send a corrected export, or `bridge files replace {f.tenant} {f.id} "
        f"--by <file>` / `bridge files dismiss {f.tenant} {f.id} --reason ...`"
    )
