"""The fault matrix's Infor M3 rows (issue 12): the ION API's own failures, through the pipeline.

The same world and audit as `test_matrix.py` (sshd, the sandboxes, PostgreSQL, `bridge verify`
plus the ground truth); each case breaks what only the ION API Gateway has: its token
endpoint, a token revoked mid-batch, a storm of 429s without Retry-After. AddLine refused
after AddHead, a field too long and a missing company are contract tests
(`contract/infor_m3/`), where the batch they leave can be inspected.
"""

import pytest

from bridge_pipelines.sandbox.faultworld.world import Case, World, erp_kinds
from bridge_pipelines_tests.faults.test_matrix import converged, fired, passes

pytestmark = [
    pytest.mark.faults,
    pytest.mark.sshd,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.skipif("infor_m3" not in erp_kinds(), reason="the Infor M3 connector is absent"),
]

ERP = "infor_m3"
TOKEN = {"method": "POST", "path": "*/as/token.oauth2"}
ADD_HEAD = {"method": "GET", "path": "*/APS450MI/AddHead*"}
M3_API = {"path": "*/m3api-rest/v2/execute*"}


def test_infor_token_endpoint_refusing_the_app_stops_then_recovers(fault_world: World) -> None:
    case = Case(fault_world, "token_401", ERP)
    case.deliver(3)
    case.sandbox.admin.arm_fault("auth_fail", count=1, **TOKEN)
    first = case.run()
    assert fired(case) and (first.failed_runs or first.step_failures), passes(case)
    # One refused grant, not a retry storm: the ConfigError stopped the step.
    grants = [r for r in case.sandbox.admin.requests() if r["path"].endswith("/token.oauth2")]
    assert [r["status"] for r in grants].count(401) == 1
    converged(case, "token endpoint 401, bad cs (infor_m3)")


def test_infor_token_revoked_mid_batch(fault_world: World) -> None:
    case = Case(fault_world, "token_revoked", ERP)
    case.deliver(4)
    case.sandbox.admin.arm_fault("expire_session", count=1, skip=2, **ADD_HEAD)
    case.run()
    assert fired(case)
    converged(case, "token revoked mid-batch (infor_m3)")


def test_infor_token_expired_on_the_gateway_clock(fault_world: World) -> None:
    case = Case(fault_world, "token_expired", ERP)
    case.deliver(3)
    case.sandbox.admin.configure(token_lifetime_seconds=1)
    converged(case, "token lifetime 1 s (infor_m3)")


def test_infor_429_storm_without_retry_after(fault_world: World) -> None:
    case = Case(fault_world, "429_storm", ERP)
    case.deliver(4)
    case.sandbox.admin.arm_fault("rate_limit", count=12, probability=0.5, **M3_API)
    case.run()
    converged(case, "429 storm, no Retry-After (infor_m3)")
