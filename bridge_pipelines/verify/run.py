"""`run_verify`: open what a tenant's reconciliation reads, from settings, and run it."""

from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from datetime import date, timedelta
from typing import Any

from bridge_pipelines.erps.base import ErpAdapter
from bridge_pipelines.intake.runtime import Runtime
from bridge_pipelines.sftp.client import SftpClient
from bridge_pipelines.tenants.loader import find_tenant
from bridge_pipelines.tenants.models import TenantConfig
from bridge_pipelines.verify.reconcile import verify_tenant
from bridge_pipelines.verify.report import VerifyReport


@contextmanager
def _sftp(ctx: Runtime, tenant: TenantConfig, pooled: bool) -> Iterator[SftpClient]:
    if pooled:
        with ctx.sftp(tenant) as client:
            yield client
        return
    with SftpClient.connect(tenant.sftp, ctx.credentials_factory(tenant)()) as client:
        yield client


def run_verify(
    tenant_id: str,
    day: date | None = None,
    *,
    ctx: Runtime | None = None,
    tenant: TenantConfig | None = None,
    in_flight: timedelta = timedelta(0),
    erp_options: Mapping[str, Any] | None = None,
) -> VerifyReport:
    """Reconcile one tenant: its ledger, its Stampli server and its ERP, read-only.

    Without `ctx` everything comes from the environment (`BRIDGE_*` settings, the tenants
    folder) and the SFTP connection is opened for this call; with `ctx` (a Dagster step) its
    ledger, keyring and pooled connections are used. `in_flight`: see `verify_tenant`.
    `erp_options`: client-setting overrides for the ERP adapter (`bridge verify --timeout`).

    Raises:
        ConfigError: unknown tenant, wrong credentials or URL, changed host key.
        BridgeError: the ERP or the Stampli server could not be read (RetryableError...).
    """
    pooled = ctx is not None
    ctx = ctx or Runtime.from_env()
    if tenant is None:
        tenant = find_tenant(tenant_id)
    with ExitStack() as stack:
        adapter: ErpAdapter | None = None
        if tenant.erp.kind != "none":
            from bridge_pipelines.tenants.erp import build_adapter

            adapter = stack.enter_context(
                build_adapter(tenant, keyring=ctx.keyring, **(erp_options or {}))
            )
        sftp = stack.enter_context(_sftp(ctx, tenant, pooled))
        return verify_tenant(
            tenant, ctx.ledger, day=day, adapter=adapter, sftp=sftp, in_flight=in_flight
        )
    raise AssertionError("unreachable")  # pragma: no cover
