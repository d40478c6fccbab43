"""The Dagster layer: thin wiring over the domain packages. Nothing else imports dagster."""

from collections.abc import Sequence

import dagster as dg

from bridge_pipelines.defs.factory import build_tenant_defs
from bridge_pipelines.defs.resources import BridgeResource
from bridge_pipelines.tenants.loader import load_tenants
from bridge_pipelines.tenants.models import TenantConfig


def build_defs(tenants: Sequence[TenantConfig] | None = None) -> dg.Definitions:
    """All tenants' definitions merged; a bad tenant file fails the load naming file and field."""
    if tenants is None:
        tenants = load_tenants()
    return dg.Definitions.merge(
        *(build_tenant_defs(tenant) for tenant in tenants),
        dg.Definitions(resources={"bridge": BridgeResource()}),
    )
