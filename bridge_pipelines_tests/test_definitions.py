"""A snapshot of what the definitions expose, so a change in tenant fan-out shows in review.

Set UPDATE_SNAPSHOTS=1 to rewrite the snapshot after an intended change.
"""

import json
import os
from pathlib import Path

import dagster as dg

from bridge_pipelines.defs import build_defs
from bridge_pipelines.tenants.models import TenantConfig

SNAPSHOT = Path(__file__).parent / "__snapshots__" / "definitions.json"
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
FAKE_SECRET = "enc:v1:k1:QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"


def tenant(tenant_id: str, zone: str, erp: str = "none") -> TenantConfig:
    erp_section = (
        {
            "kind": erp,
            "base_url": "http://127.0.0.1:1/SYSPROWCFService/Rest",
            "company": "DEMO",
            "username": "BRIDGE",
            "password": FAKE_SECRET,
        }
        if erp != "none"
        else {"kind": "none"}
    )
    return TenantConfig.model_validate(
        {
            "erp": erp_section,
            "id": tenant_id,
            "name": tenant_id.title(),
            "timezone": zone,
            "sftp": {
                "host": "127.0.0.1",
                "port": 2222,
                "username": "stampli",
                "host_key": HOST_KEY,
                "password": FAKE_SECRET,
            },
        }
    )


def describe(defs: dg.Definitions) -> dict[str, object]:
    graph = defs.resolve_asset_graph()
    return {
        "assets": sorted(key.to_user_string() for key in graph.get_all_asset_keys()),
        "groups": sorted({graph.get(k).group_name for k in graph.get_all_asset_keys()}),
        "checks": sorted(
            f"{key.asset_key.to_user_string()}:{key.name}:blocking={spec.blocking}"
            for assets_def in graph.assets_defs
            for key, spec in assets_def.check_specs_by_output_name.items()
            for key in [spec.key]
        ),
        "partitioned": sorted(
            f"{k.to_user_string()}:{graph.get(k).partitions_def.timezone}"  # type: ignore[union-attr]
            for k in graph.get_all_asset_keys()
            if graph.get(k).partitions_def is not None
        ),
        "sensors": sorted(s.name for s in defs.sensors or []),
        "schedules": sorted(s.name for s in defs.schedules or []),
        "deps": sorted(
            f"{k.to_user_string()}<-{p.to_user_string()}"
            for k in graph.get_all_asset_keys()
            for p in graph.get(k).parent_keys
        ),
        "jobs": sorted(j.name for j in defs.resolve_all_job_defs()),
    }


def test_definitions_snapshot() -> None:
    defs = build_defs(
        [tenant("acme", "America/Chicago", erp="syspro"), tenant("globex", "Europe/Berlin")]
    )
    dg.Definitions.validate_loadable(defs)
    current = describe(defs)
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(current, indent=2) + "\n")
    assert SNAPSHOT.exists(), "no snapshot yet: run with UPDATE_SNAPSHOTS=1 and review it"
    assert current == json.loads(SNAPSHOT.read_text())


def test_adding_a_tenant_adds_its_definitions_without_code() -> None:
    one = describe(build_defs([tenant("acme", "UTC")]))
    two = describe(build_defs([tenant("acme", "UTC"), tenant("initech", "Asia/Tokyo")]))
    added = set(two["assets"]) - set(one["assets"])  # type: ignore[arg-type]
    assert added == {
        f"initech/stampli/stampli_{k}" for k in ("invoices", "payments", "vendors", "gl_accounts")
    }
    assert "initech_stampli_files" in two["sensors"]  # type: ignore[operator]
