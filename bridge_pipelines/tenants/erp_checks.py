"""Tenant-file problems only this machine and the adapters can see (`bridge tenants check`).

The model validates a file on its own; these checks look outside it: a CA bundle named by
`erp.ca_bundle` must be a readable PEM file here, and a tenant that asks for open purchase
orders must have an ERP adapter that reads them. Both fail later, at the first run, otherwise.
"""

import ssl
import typing
from pathlib import Path

from bridge_pipelines.erps.base import AdapterBase
from bridge_pipelines.erps.registry import adapter_factory
from bridge_pipelines.errors import ConfigError, FieldProblem
from bridge_pipelines.tenants.loader import TenantCheck


def ca_bundle_problem(path: str) -> str | None:
    """Why `path` cannot serve as a CA bundle (None when it loads as one)."""
    file = Path(path)
    if not file.is_file():
        return f"{path} is not a file on this machine" if file.exists() else f"{path} not found"
    try:
        ssl.create_default_context(cafile=path)
    except PermissionError:
        return f"{path} is not readable by this user"
    except (ssl.SSLError, ValueError, UnicodeDecodeError):
        return f"{path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
    except OSError as exc:
        return f"{path} cannot be read: {exc.strerror or exc}"
    return None


def reads_open_purchase_orders(kind: str) -> bool | None:
    """Whether the adapter registered for `kind` reads open purchase orders.

    Read from the factory's return annotation: an `AdapterBase` subclass that does not
    override `read_open_pos` raises `NotSupportedError`. None when it cannot be told (no
    adapter, or a factory without an annotated adapter class); the run then says so.
    """
    try:
        factory = adapter_factory(kind)
        adapter_class = typing.get_type_hints(factory).get("return")
    except (ConfigError, NameError, TypeError):
        return None
    if not isinstance(adapter_class, type) or not issubclass(adapter_class, AdapterBase):
        return None
    return adapter_class.read_open_pos is not AdapterBase.read_open_pos


def check_erp_settings(check: TenantCheck) -> list[FieldProblem]:
    """Problems of the validated tenants' ERP settings that depend on this machine or code."""
    problems: list[FieldProblem] = []
    for tenant in check.tenants:
        file = str(check.files[tenant.id])
        if tenant.erp.ca_bundle is not None:
            problem = ca_bundle_problem(tenant.erp.ca_bundle)
            if problem:
                problems.append(FieldProblem(file, "erp.ca_bundle", problem))
        asks_for_pos = tenant.schedules.open_purchase_orders_cron is not None
        if asks_for_pos and reads_open_purchase_orders(tenant.erp.kind) is False:
            problems.append(
                FieldProblem(
                    file,
                    "schedules.open_purchase_orders_cron",
                    f"the {tenant.erp.kind} adapter does not read purchase orders: "
                    "remove the setting (or wait for an adapter that does)",
                )
            )
    return problems
