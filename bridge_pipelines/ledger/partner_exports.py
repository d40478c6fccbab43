"""Partner exports: what was built for a partner, what was delivered, cursors, control numbers.

An export is one file: (partner, dataset, period, seq) over the SYSPRO rows whose `ChangedAt`
lies in (`changed_after`, `changed_until`]. It is recorded `built` (bytes' hash, size, remote
name, rows, totals, X12 control number) before any upload, so a re-send rebuilds the same
window with the same control number and must give the same hash; it becomes `delivered` once
the partner's server holds it. Every state change appends an audit event in its transaction.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bridge_pipelines.ledger.audit import DEFAULT_ACTOR, append_events
from bridge_pipelines.ledger.coltypes import plain_json
from bridge_pipelines.ledger.db import LedgerDb, utcnow
from bridge_pipelines.ledger.tables import (
    partner_control_numbers,
    partner_cursors,
    partner_exports,
)

ENTITY = "partner_export"
MAX_CONTROL_NUMBER = 999_999_999  # ISA13 is nine digits


@dataclass(frozen=True)
class PartnerExport:
    """One file for a partner, as the ledger holds it."""

    id: int
    tenant: str
    partner: str
    dataset: str
    period: str
    seq: int
    changed_after: str | None
    changed_until: str
    file_format: str
    remote_name: str
    row_count: int
    totals: Mapping[str, Any]
    sha256: str
    size: int
    control_number: int | None
    state: str
    created_at: datetime
    delivered_at: datetime | None
    verified: str | None


@dataclass(frozen=True)
class NewExport:
    """An export about to be recorded `built`."""

    tenant: str
    partner: str
    dataset: str
    period: str
    seq: int
    changed_after: str | None
    changed_until: str
    file_format: str
    remote_name: str
    row_count: int
    totals: Mapping[str, Any]
    sha256: str
    size: int
    control_number: int | None


def _export(row: Any) -> PartnerExport:
    return PartnerExport(**{c.name: getattr(row, c.name) for c in partner_exports.columns})


class PartnerExportRoom:
    """Exports, their cursors and control numbers."""

    _db: LedgerDb

    def partner_exports(
        self,
        tenant: str,
        *,
        partner: str | None = None,
        dataset: str | None = None,
        period: str | None = None,
    ) -> list[PartnerExport]:
        """A tenant's exports, oldest first, optionally of one partner, dataset and period."""
        query = sa.select(partner_exports).where(partner_exports.c.tenant == tenant)
        for column, value in (("partner", partner), ("dataset", dataset), ("period", period)):
            if value is not None:
                query = query.where(partner_exports.c[column] == value)
        with self._db.read() as conn:
            return [_export(r) for r in conn.execute(query.order_by(partner_exports.c.id))]

    def partner_cursor(self, tenant: str, partner: str, dataset: str, period: str) -> str | None:
        """The last `ChangedAt` read for this partner, dataset and period (None: never read)."""
        c = partner_cursors.c
        query = sa.select(c.changed_until).where(
            c.tenant == tenant, c.partner == partner, c.dataset == dataset, c.period == period
        )
        with self._db.read() as conn:
            value = conn.scalar(query)
        return str(value) if value is not None else None

    def next_control_number(self, tenant: str, partner: str) -> int:
        """A fresh X12 interchange control number for `partner`: never handed out before.

        Raises:
            OverflowError: the nine digits of ISA13 are used up.
        """

        def work(conn: sa.Connection) -> int:
            c = partner_control_numbers.c
            last = conn.scalar(
                sa.select(c.last_number).where(c.tenant == tenant, c.partner == partner)
            )
            if last is None:
                conn.execute(
                    partner_control_numbers.insert().values(
                        tenant=tenant, partner=partner, last_number=1
                    )
                )
                return 1
            if last >= MAX_CONTROL_NUMBER:
                raise OverflowError(f"partner {partner}: X12 control numbers are used up")
            updated = conn.execute(
                partner_control_numbers.update()
                .where(c.tenant == tenant, c.partner == partner, c.last_number == last)
                .values(last_number=last + 1)
            )
            if updated.rowcount != 1:  # another run took it first: try again
                raise sa.exc.IntegrityError("control number race", None, Exception("race"))
            return int(last) + 1

        return self._db.race_safe(work)

    def record_built_export(self, new: NewExport, *, actor: str = DEFAULT_ACTOR) -> PartnerExport:
        """Record an export `built` (before upload); its cursor moves to `changed_until`."""
        now = utcnow()

        def work(conn: sa.Connection) -> PartnerExport:
            values = {**new.__dict__, "totals": plain_json(dict(new.totals))}
            row_id = conn.execute(
                partner_exports.insert().values(**values, state="built", created_at=now)
            ).inserted_primary_key
            assert row_id is not None
            key = {
                "tenant": new.tenant,
                "partner": new.partner,
                "dataset": new.dataset,
                "period": new.period,
            }
            updated = conn.execute(
                partner_cursors.update()
                .where(*(partner_cursors.c[k] == v for k, v in key.items()))
                .values(changed_until=new.changed_until, updated_at=now)
            )
            if updated.rowcount == 0:
                conn.execute(
                    partner_cursors.insert().values(
                        **key, changed_until=new.changed_until, updated_at=now
                    )
                )
            append_events(
                conn,
                [
                    (
                        new.tenant,
                        ENTITY,
                        int(row_id[0]),
                        "export_built",
                        {
                            "partner": new.partner,
                            "dataset": new.dataset,
                            "period": new.period,
                            "seq": new.seq,
                            "remote_name": new.remote_name,
                            "rows": new.row_count,
                            "totals": dict(new.totals),
                            "sha256": new.sha256,
                            "control_number": new.control_number,
                        },
                    )
                ],
                actor,
            )
            found = conn.execute(
                sa.select(partner_exports).where(partner_exports.c.id == int(row_id[0]))
            ).one()
            return _export(found)

        return self._db.race_safe(work)

    def record_rebuilt_export(
        self, export_id: int, *, sha256: str, size: int, row_count: int, totals: Mapping[str, Any]
    ) -> PartnerExport:
        """New content for a `built` export whose rows changed before it was ever delivered.

        Same name and control number: the partner never saw the old bytes.

        Raises:
            ValueError: the export was delivered already (never rewritten).
        """
        with self._db.write() as conn:
            row = conn.execute(
                sa.select(partner_exports).where(partner_exports.c.id == export_id)
            ).one()
            if row.state != "built":
                raise ValueError(f"export {export_id} was delivered; it is never rewritten")
            conn.execute(
                partner_exports.update()
                .where(partner_exports.c.id == export_id)
                .values(
                    sha256=sha256, size=size, row_count=row_count, totals=plain_json(dict(totals))
                )
            )
            append_events(
                conn,
                [
                    (
                        row.tenant,
                        ENTITY,
                        export_id,
                        "export_rebuilt",
                        {
                            "remote_name": row.remote_name,
                            "sha256_before": row.sha256,
                            "sha256": sha256,
                            "rows": row_count,
                        },
                    )
                ],
                DEFAULT_ACTOR,
            )
            return _export(
                conn.execute(
                    sa.select(partner_exports).where(partner_exports.c.id == export_id)
                ).one()
            )

    def record_delivery(
        self,
        export_id: int,
        *,
        verified: str,
        event: str = "export_delivered",
        detail: Mapping[str, Any] | None = None,
        actor: str = DEFAULT_ACTOR,
    ) -> PartnerExport:
        """Mark an export delivered (or re-delivered) and audit it: where, how verified, when."""
        now = utcnow()
        with self._db.write() as conn:
            row = conn.execute(
                sa.select(partner_exports).where(partner_exports.c.id == export_id)
            ).one()
            conn.execute(
                partner_exports.update()
                .where(partner_exports.c.id == export_id)
                .values(state="delivered", delivered_at=now, verified=verified)
            )
            append_events(
                conn,
                [
                    (
                        row.tenant,
                        ENTITY,
                        export_id,
                        event,
                        {
                            "partner": row.partner,
                            "dataset": row.dataset,
                            "period": row.period,
                            "remote_name": row.remote_name,
                            "rows": row.row_count,
                            "totals": row.totals,
                            "sha256": row.sha256,
                            "size": row.size,
                            "verified": verified,
                            **dict(detail or {}),
                        },
                    )
                ],
                actor,
            )
            return _export(
                conn.execute(
                    sa.select(partner_exports).where(partner_exports.c.id == export_id)
                ).one()
            )

    def record_export_failure(
        self, tenant: str, partner: str, dataset: str, period: str, reason: str
    ) -> None:
        """Audit a file that was not sent (unmapped code, partner down...), with why."""
        with self._db.write() as conn:
            append_events(
                conn,
                [
                    (
                        tenant,
                        ENTITY,
                        f"{partner}/{dataset}/{period}",
                        "export_failed",
                        {
                            "partner": partner,
                            "dataset": dataset,
                            "period": period,
                            "reason": reason,
                        },
                    )
                ],
                DEFAULT_ACTOR,
            )
