"""`BRIDGE_SENSORS=shared`: one intake, alerts and review-queue sensor for every tenant.

The shared sensors must request exactly the runs the per-tenant sensors request, keep a
tenant whose SFTP server is down from stopping the others (and still alert on it), and honour
each tenant's own `sensor_interval_s`.
"""

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from bridge_pipelines.defs import build_defs, sensors
from bridge_pipelines.defs.resources import BridgeResource
from bridge_pipelines.defs.shared_sensors import ALERTS_SENSOR, INTAKE_SENSOR, REVIEW_SENSOR
from bridge_pipelines.sandbox.sftp_server import EmbeddedSftpServer
from bridge_pipelines.settings import Settings
from bridge_pipelines.tenants.models import TenantConfig
from bridge_pipelines.tenants.secrets import Keyring
from bridge_pipelines_tests.integration.sensors.conftest import EXPORT, PASSWORD, SETTLE_S, Tick

pytestmark = pytest.mark.e2e

NAME = "approved_invoices_20260504_101500.csv"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class World:
    """Tenants on the embedded SFTP server (or a closed port), one ledger, one instance."""

    def __init__(self, root: Path, server: EmbeddedSftpServer, defs: dg.Definitions) -> None:
        self.root = root
        self.server = server
        self.defs = defs
        self.cursors: dict[str, str | None] = {}
        self.offset = 0.0  # how far the sensors' clock is ahead of the real one
        self.instance: dg.DagsterInstance

    def later(self, seconds: float = SETTLE_S + 0.2) -> None:
        """Let the settle interval pass on the real clock, and `seconds` on the sensors'."""
        time.sleep(SETTLE_S + 0.2)
        self.offset += seconds

    def drop(self, name: str) -> None:
        (self.root / "outbound/invoices" / name).write_bytes(EXPORT)

    def tick(self, name: str) -> Tick:
        """One evaluation as the daemon makes it, the cursor carried to the next."""
        sensor = self.defs.resolve_sensor_def(name)
        with dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursors.get(name),
            sensor_name=name,
            definitions=self.defs,
            resources={"bridge": BridgeResource()},
        ) as context:
            data = sensor.evaluate_tick(context)
        self.cursors[name] = data.cursor
        return Tick(list(data.run_requests or []), data.skip_message, data.cursor)


@contextmanager
def world(
    tmp: Path, layout: str, tenants: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    """`tenants`: id -> tenant file fields over the defaults (`"down": True`: a closed port)."""
    with monkeypatch.context() as env:
        for name in [n for n in os.environ if n.startswith("BRIDGE_")]:
            env.delenv(name)
        env.setenv("BRIDGE_HOME", str(tmp / "home"))
        env.setenv("BRIDGE_MAPPINGS_DIR", str(tmp / "mappings"))
        env.setenv("BRIDGE_SENSORS", layout)
        (tmp / "home").mkdir(parents=True)
        keyring = Keyring.generate(Settings().resolved_key_file)
        root = tmp / "sftp"
        server = EmbeddedSftpServer(root, users={"stampli": PASSWORD}, host_key_path=tmp / "hk")
        server.start()
        configs = []
        for tenant_id, extra in tenants.items():
            down = extra.pop("down", False)
            configs.append(
                TenantConfig.model_validate(
                    {
                        "id": tenant_id,
                        "name": tenant_id.title(),
                        "timezone": "America/Chicago",
                        "sftp": {
                            "host": "127.0.0.1",
                            "port": _closed_port() if down else server.port,
                            "username": "stampli",
                            "host_key": server.host_key_line,
                            "password": keyring.encrypt(tenant_id, "sftp.password", PASSWORD),
                            "settle_seconds": SETTLE_S,
                            "connect_timeout_s": 2,
                        },
                        "erp": {
                            "kind": "syspro",
                            "base_url": "http://127.0.0.1:9/SYSPROWCFService/Rest",
                            "company": "EDU1",
                            "username": "ADMIN",
                            "password": keyring.encrypt(tenant_id, "erp.password", "secret"),
                        },
                        **extra,
                    }
                )
            )
        made = World(root, server, build_defs(configs))
        env.setattr(sensors, "_clock", lambda: time.time() + made.offset)
        try:
            with dg.instance_for_test() as instance:
                made.instance = instance
                yield made
        finally:
            ctx = BridgeResource().intake()
            ctx.pool.close_all()
            ctx.ledger.dispose()
            server.stop()
            sensors.LISTINGS.clear()


def _runs(requests: list[dg.RunRequest]) -> list[tuple[Any, ...]]:
    """What a user sees of a run request; batch ids (made by the ledger) must be the run key."""
    out = []
    for r in requests:
        assert r.run_key == r.tags["bridge/batch"]
        # Dagster's own `dagster/sensor_name` names the sensor, which differs by design.
        tags = {k: v for k, v in r.tags.items() if k not in ("bridge/batch", "dagster/sensor_name")}
        out.append((r.tags["bridge/tenant"], sorted(tags.items()), r.partition_key,
                    sorted(k.to_user_string() for k in r.asset_selection or [])))  # fmt: skip
    return sorted(out)


def test_the_shared_sensor_requests_the_runs_the_per_tenant_sensors_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, list[tuple[Any, ...]]] = {}
    for layout in ("per_tenant", "shared"):
        with world(tmp_path / layout, layout, {"acme": {}, "globex": {}}, monkeypatch) as w:
            names = [s.name for s in w.defs.sensors if s.name != "bridge_run_failure_alerts"]
            w.drop(NAME)
            intake = [n for n in names if n.endswith("_stampli_files")]
            for name in intake:
                w.tick(name)
            w.later(10)  # the tenants' sensor_interval_s
            requests = [r for name in intake for r in w.tick(name).requests]
            seen[layout] = _runs(requests)
            if layout == "shared":
                assert sorted(names) == sorted([INTAKE_SENSOR, ALERTS_SENSOR, REVIEW_SENSOR])
    assert [r[0] for r in seen["per_tenant"]] == ["acme", "globex"]
    assert seen["shared"] == seen["per_tenant"]


def test_an_unreachable_tenant_neither_stops_another_nor_goes_unreported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with world(tmp_path, "shared", {"acme": {}, "down": {"down": True}}, monkeypatch) as w:
        w.drop(NAME)
        first = w.tick(INTAKE_SENSOR)
        assert "down: could not reach SFTP server" in (first.skip_message or "")
        w.later(10)
        requested = w.tick(INTAKE_SENSOR).requests
        assert [r.tags["bridge/tenant"] for r in requested] == ["acme"]
        # Alerts count the down tenant's failed ticks from the intake's listings.
        said = ""
        for _ in range(3):
            w.offset += 60  # the pool's reconnect backoff and the alerts interval
            w.tick(INTAKE_SENSOR)
            said = w.tick(ALERTS_SENSOR).skip_message or ""
        assert "down: SFTP 127.0.0.1:" in said and "unreachable for 3 ticks" in said
        assert "acme:" not in said
        assert json.loads(w.cursors[ALERTS_SENSOR] or "{}")["acme"]["sftp_failures"] == 0


def test_each_tenant_keeps_its_own_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenants: dict[str, dict[str, Any]] = {
        "acme": {},
        "hourly": {"schedules": {"sensor_interval_s": 3600}},
    }
    with world(tmp_path, "shared", tenants, monkeypatch) as w:
        assert w.defs.resolve_sensor_def(INTAKE_SENSOR).minimum_interval_seconds == 10
        w.drop(NAME)
        assert (w.tick(INTAKE_SENSOR).skip_message or "").startswith("2 of 2 tenants evaluated")
        w.later(10)
        requested = w.tick(INTAKE_SENSOR).requests
        assert [r.tags["bridge/tenant"] for r in requested] == ["acme"]
        w.offset += 3600
        requested = w.tick(INTAKE_SENSOR).requests
        fresh = [r.tags["bridge/tenant"] for r in requested if "bridge/resume" not in r.tags]
        assert fresh == ["hourly"]  # acme, due again, only resumes its unlaunched batch
