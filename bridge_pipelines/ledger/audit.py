"""The audit trail: every state change appends its events in the transaction that makes it."""

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from bridge_pipelines.ledger.coltypes import plain_json
from bridge_pipelines.ledger.db import LedgerDb, utcnow
from bridge_pipelines.ledger.models import AuditEvent
from bridge_pipelines.ledger.tables import audit_events

DEFAULT_ACTOR = "bridge"

Event = tuple[str, str, str | int, str, Mapping[str, Any]]
"""(tenant, entity, entity_id, event, detail): one audit row before it is written."""

_INSERT_AUDIT = audit_events.insert()


def append_events(conn: sa.Connection, events: Sequence[Event], actor: str) -> None:
    """Append (tenant, entity, entity_id, event, detail) rows in the caller's transaction."""
    if not events:
        return
    at = utcnow()
    conn.execute(
        _INSERT_AUDIT,
        [
            {
                "at": at,
                "tenant": tenant,
                "entity": entity,
                "entity_id": str(entity_id),
                "event": name,
                "detail": plain_json(dict(detail)),
                "actor": actor,
            }
            for tenant, entity, entity_id, name, detail in events
        ],
    )


class AuditRoom:
    """Reading the trail back."""

    _db: LedgerDb

    def audit(
        self, tenant: str, *, entity: str | None = None, entity_id: int | str | None = None
    ) -> list[AuditEvent]:
        """A tenant's audit trail, oldest first."""
        query = sa.select(audit_events).where(audit_events.c.tenant == tenant)
        if entity is not None:
            query = query.where(audit_events.c.entity == entity)
        if entity_id is not None:
            query = query.where(audit_events.c.entity_id == str(entity_id))
        with self._db.read() as conn:
            return [
                AuditEvent(
                    id=r.id,
                    at=r.at,
                    tenant=r.tenant,
                    entity=r.entity,
                    entity_id=r.entity_id,
                    event=r.event,
                    detail=r.detail,
                    actor=r.actor,
                )
                for r in conn.execute(query.order_by(audit_events.c.id))
            ]
