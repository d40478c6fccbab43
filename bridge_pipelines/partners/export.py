"""One partner's files for one period: read SYSPRO, build, record, deliver, audit.

Per file (a dataset in a format), in two phases so the partner never gets a file from half a
period:

1. Build. Exports recorded `built` but never delivered (a run that died, a partner that was
   down) are rebuilt from their window and must hash as recorded. Then the rows changed since
   the file's cursor are read; if there are any, they become the period's next export (`seq`
   + 1, a new name, a fresh X12 control number), recorded `built` with the cursor moved, all
   before any upload. Rows changed within the partner's `settle_s` (2 minutes) wait for the
   next run, so a window never ends inside a second whose changes may still be committing. A
   page that fails, an unmapped code or a value that does not fit stops
   the file here, with nothing recorded.
2. Deliver every `built` export (temporary name, rename, verify) and record it `delivered`.

A delivered export is never sent again by a run: re-running a period changes nothing on the
partner's server. `resend=True` is the operator's explicit re-send: the same bytes under the
same name (same control numbers), refused if SYSPRO's rows of that window changed since.
"""

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from bridge_pipelines.erps.syspro.client import SysproSettings
from bridge_pipelines.errors import BadInputError, BridgeError, ConfigError, RetryableError
from bridge_pipelines.ledger.partner_exports import NewExport, PartnerExport
from bridge_pipelines.ledger.repository import Ledger
from bridge_pipelines.partners import delivery
from bridge_pipelines.partners.build import Built, build_file, file_key, remote_name, stamp
from bridge_pipelines.partners.config import partner_credentials
from bridge_pipelines.partners.models import Partner, PartnerFile
from bridge_pipelines.partners.periods import Period
from bridge_pipelines.partners.reader import PeriodReader, open_reader, read_window, supplier_names
from bridge_pipelines.sftp.client import SftpClient
from bridge_pipelines.tenants.erp import erp_secrets
from bridge_pipelines.tenants.models import TenantConfig
from bridge_pipelines.tenants.secrets import Keyring

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file of the run (one line of `bridge export`)."""

    partner: str
    file: str  # dataset.format
    period: str
    status: str  # delivered | resent | already_delivered | nothing_new | failed
    remote_name: str | None = None
    rows: int = 0
    totals: dict[str, Any] = field(default_factory=dict)
    sha256: str | None = None
    verified: str | None = None
    error: str | None = None


def syspro_settings(tenant: TenantConfig, keyring: Keyring) -> SysproSettings:
    """The tenant's SYSPRO connection (OData root, operator, decrypted password).

    Raises:
        ConfigError: the tenant's ERP is not SYSPRO or lacks the URL or the operator.
    """
    erp: Any = tenant.erp
    if erp.kind != "syspro":
        raise ConfigError(
            f"tenant {tenant.id}: partner exports read SYSPRO; erp.kind is {erp.kind}"
        )
    if not erp.base_url or not erp.username or not erp.company:
        raise ConfigError(f"tenant {tenant.id}: erp.base_url, username and company are needed")
    secrets = erp_secrets(tenant, keyring)
    return SysproSettings(
        rest_url=erp.base_url,
        operator=erp.username,
        password=secrets["password"],
        company=erp.company,
        odata_url=erp.odata_url,
        **erp.client_options(f"tenant {tenant.id}", {}),
    )


class PartnerRun:
    """Exports one partner's files for one period (see the module docstring)."""

    def __init__(
        self,
        tenant: TenantConfig,
        partner: Partner,
        ledger: Ledger,
        keyring: Keyring,
        *,
        reader: PeriodReader | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.tenant = tenant
        self.partner = partner
        self.ledger = ledger
        self.keyring = keyring
        self._reader = reader
        self._sleep = sleep
        self._clock = clock
        self._suppliers: dict[str, str] | None = None

    @property
    def reader(self) -> PeriodReader:
        if self._reader is None:
            self._reader = open_reader(syspro_settings(self.tenant, self.keyring))
        return self._reader

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()

    @property
    def suppliers(self) -> dict[str, str]:
        if self._suppliers is None:
            self._suppliers = supplier_names(self.reader)
        return self._suppliers

    # -- building ------------------------------------------------------------------------

    def _build(
        self,
        spec: PartnerFile,
        period: Period,
        after: str | None,
        until: str | None,
        *,
        name: str,
        control_number: int | None,
    ) -> Built:
        rows: Iterable[Any] = read_window(self.reader, spec.dataset, period, after, until)
        needs_names = (
            spec.format.startswith("x12")
            or any(c.field == "supplier_name" for c in spec.columns)
            or any(f.field == "supplier_name" for f in spec.fields)
        )
        return build_file(
            spec,
            self.partner,
            rows,
            name=name,
            period=period,
            suppliers=self.suppliers if needs_names else {},
            buyer_name=self.tenant.name,
            control_number=control_number,
        )

    def _rebuild(self, spec: PartnerFile, export: PartnerExport, period: Period) -> Built:
        built = self._build(
            spec,
            period,
            export.changed_after,
            export.changed_until,
            name=export.remote_name,
            control_number=export.control_number,
        )
        if built.sha256 != export.sha256:
            raise BadInputError(
                f"{export.remote_name}: SYSPRO's rows of this file's window "
                f"({export.changed_after or 'period start'} to {export.changed_until}) changed "
                f"since it was built (sha256 {export.sha256[:12]}..., now {built.sha256[:12]}...); "
                "not re-sent: the changes go out in the period's next file"
            )
        return built

    def _rebuild_undelivered(
        self, spec: PartnerFile, export: PartnerExport, period: Period
    ) -> tuple[PartnerExport, Built, str]:
        """A file built but never delivered, as its window reads now.

        If SYSPRO changed rows of the window meanwhile, the partner never saw the old bytes:
        the export takes the new ones (same name and control number), audited
        `export_rebuilt`. A file that did reach the server unrecorded is caught at delivery
        (another file under our name is never overwritten).
        """
        built = self._build(
            spec, period, export.changed_after, export.changed_until,
            name=export.remote_name, control_number=export.control_number,
        )  # fmt: skip
        if built.sha256 != export.sha256:
            export = self.ledger.record_rebuilt_export(
                export.id,
                sha256=built.sha256,
                size=len(built.file.data),
                row_count=built.file.rows,
                totals=dict(built.file.totals),
            )
        return export, built, "delivered"

    def _new_export(
        self, spec: PartnerFile, period: Period, known: list[PartnerExport]
    ) -> tuple[PartnerExport, Built] | None:
        key = file_key(spec)
        cursor = self.ledger.partner_cursor(self.tenant.id, self.partner.id, key, str(period))
        settled = stamp(self._clock() - timedelta(seconds=self.partner.settle_s))
        seq = max((e.seq for e in known), default=0) + 1
        name = remote_name(spec, self.partner, self.tenant.id, period, seq)
        control = None
        if spec.format.startswith("x12"):
            # Probe first, so an empty run burns no control number.
            probe = read_window(self.reader, spec.dataset, period, cursor, settled)
            if next(iter(probe), None) is None:
                return None
            control = self.ledger.next_control_number(self.tenant.id, self.partner.id)
        built = self._build(spec, period, cursor, settled, name=name, control_number=control)
        if built.file.rows == 0 or built.newest is None:
            return None
        try:
            export = self.ledger.record_built_export(
                NewExport(
                    tenant=self.tenant.id,
                    partner=self.partner.id,
                    dataset=key,
                    period=str(period),
                    seq=seq,
                    changed_after=cursor,
                    changed_until=built.newest,
                    file_format=spec.format,
                    remote_name=name,
                    row_count=built.file.rows,
                    totals=dict(built.file.totals),
                    sha256=built.sha256,
                    size=len(built.file.data),
                    control_number=control,
                )
            )
        except IntegrityError:
            raise RetryableError(
                f"{name}: another run recorded this file first (two runs of partner "
                f"{self.partner.id} {period} at once); the next run sends what is left"
            ) from None
        return export, built

    # -- the run -------------------------------------------------------------------------

    def run(self, period: Period, *, resend: bool = False) -> list[FileOutcome]:
        """Every file of the partner for `period`; a failed file does not stop the others."""
        outcomes: list[FileOutcome] = []
        ready: list[tuple[PartnerFile, PartnerExport, Built, str]] = []
        for spec in self.partner.files:
            key = file_key(spec)
            try:
                known = self.ledger.partner_exports(
                    self.tenant.id, partner=self.partner.id, dataset=key, period=str(period)
                )
                for export in known:
                    if export.state == "built":
                        ready.append((spec, *self._rebuild_undelivered(spec, export, period)))
                    elif resend:
                        ready.append((spec, export, self._rebuild(spec, export, period), "resent"))
                    else:
                        outcomes.append(self._outcome(export, "already_delivered"))
                new = self._new_export(spec, period, known)
                if new is not None:
                    ready.append((spec, *new, "delivered"))
                elif not known:
                    outcomes.append(FileOutcome(self.partner.id, key, str(period), "nothing_new"))
            except BridgeError as exc:
                outcomes.append(self._failed(key, period, exc))
        outcomes.extend(self._deliver(ready, period))
        return outcomes

    def _deliver(
        self, ready: list[tuple[PartnerFile, PartnerExport, Built, str]], period: Period
    ) -> list[FileOutcome]:
        if not ready:
            return []
        outcomes: list[FileOutcome] = []
        try:
            credentials = partner_credentials(self.tenant.id, self.partner, self.keyring)
            client = delivery.connect(self.partner, credentials, sleep=self._sleep)
        except BridgeError as exc:
            return [
                self._failed(file_key(spec), period, exc, export) for spec, export, _, _ in ready
            ]
        with client:
            for spec, export, built, status in ready:
                try:
                    outcomes.append(self._deliver_one(client, export, built, status))
                except BridgeError as exc:
                    outcomes.append(self._failed(file_key(spec), period, exc, export))
        return outcomes

    def _deliver_one(
        self, client: SftpClient, export: PartnerExport, built: Built, status: str
    ) -> FileOutcome:
        done = delivery.deliver(
            client, self.partner.folder, export.remote_name, built.file.data, export.sha256
        )
        event = "export_resent" if status == "resent" else "export_delivered"
        detail = {"uploaded": done.uploaded, "folder": self.partner.folder}
        updated = self.ledger.record_delivery(
            export.id, verified=done.verified, event=event, detail=detail
        )
        log.info(
            "partner %s: %s %s (%d rows, sha256 %s)",
            self.partner.id,
            status,
            export.remote_name,
            export.row_count,
            export.sha256[:12],
        )
        return self._outcome(updated, status)

    def _outcome(self, export: PartnerExport, status: str) -> FileOutcome:
        return FileOutcome(
            partner=self.partner.id,
            file=export.dataset,
            period=export.period,
            status=status,
            remote_name=export.remote_name,
            rows=export.row_count,
            totals=dict(export.totals),
            sha256=export.sha256,
            verified=export.verified,
        )

    def _failed(
        self, key: str, period: Period, exc: BaseException, export: PartnerExport | None = None
    ) -> FileOutcome:
        reason = f"{type(exc).__name__}: {exc}"
        self.ledger.record_export_failure(self.tenant.id, self.partner.id, key, str(period), reason)
        log.warning("partner %s: %s %s not sent: %s", self.partner.id, key, period, reason)
        return FileOutcome(
            self.partner.id,
            key,
            str(period),
            "failed",
            remote_name=export.remote_name if export else None,
            error=reason,
        )
