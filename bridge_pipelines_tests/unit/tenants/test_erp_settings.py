"""Tenant settings for open purchase orders and SAP B1 (tax account, CA bundle), as a data
engineer meets them: the file validates or names the field, and `bridge tenants check` sees
what only this machine can (a missing CA file, an ERP without purchase orders)."""

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from dagster._utils.schedules import is_valid_cron_string
from pydantic import ValidationError

from bridge_pipelines.cli.tenants import group as tenants_cli
from bridge_pipelines.tenants.loader import check_tenants
from bridge_pipelines.tenants.models import TenantConfig
from bridge_pipelines.tenants.secrets import Keyring
from bridge_pipelines_tests.support.tls import make_pki

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAEpO0SB27EJ04gcxgtoRqNfLIPsVdt9uY9kZy2uFFBR"
FAKE = "enc:v1:k1:QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"


def tenant_dict(erp: dict[str, Any] | None = None, **schedules: Any) -> dict[str, Any]:
    return {
        "id": "acme",
        "name": "Acme",
        "sftp": {"host": "h", "username": "u", "host_key": HOST_KEY, "password": FAKE},
        "erp": erp or {"kind": "none"},
        "schedules": schedules,
    }


def sap(**extra: Any) -> dict[str, Any]:
    return {"kind": "sap_b1", "base_url": "https://b1:50000", "company": "C",
            "username": "manager", "password": FAKE, **extra}  # fmt: skip


def problems_of(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        TenantConfig.model_validate(data)
    return [(".".join(map(str, e["loc"])), e["msg"]) for e in caught.value.errors()]


GOOD_CRONS = ["0 */2 * * *", "15 */2 * * *", "*/5 * * * *", "0 9-17 * * MON-FRI",
              "0 6,18 1,15 jan,jul *", "30 6 * * 7", "0 0-23/3 * * *"]  # fmt: skip
BAD_CRONS = ["every 2 hours", "0 */2 * *", "60 * * * *", "0 24 * * *", "0 0 0 * *",
             "0 0 * 13 *", "0 0 * * 8", "@hourly", "*/0 * * * *", "0 0 L * *",
             "0 0 30 2 *", "17-5 * * * *", "0 0 * * mon#2", "* * * * * *"]  # fmt: skip


@pytest.mark.parametrize("cron", GOOD_CRONS)
def test_a_valid_cron_is_kept_and_dagster_reads_it(cron: str) -> None:
    tenant = TenantConfig.model_validate(tenant_dict(sap(), open_purchase_orders_cron=cron))
    kept = tenant.schedules.open_purchase_orders_cron
    assert kept is not None and kept.split() == cron.lower().split()
    assert is_valid_cron_string(kept)


@pytest.mark.parametrize("cron", BAD_CRONS)
@pytest.mark.parametrize("field", ["open_purchase_orders_cron", "master_data_cron"])
def test_a_bad_cron_is_refused_at_its_field(cron: str, field: str) -> None:
    ((loc, message),) = problems_of(tenant_dict(sap(), **{field: cron}))
    assert loc == f"schedules.{field}" and "cron" in message


def test_open_purchase_orders_are_off_by_default() -> None:
    tenant = TenantConfig.model_validate(tenant_dict(sap()))
    assert tenant.schedules.open_purchase_orders_cron is None


def test_open_purchase_orders_without_an_erp_are_refused() -> None:
    ((_, message),) = problems_of(tenant_dict(open_purchase_orders_cron="0 */2 * * *"))
    assert "schedules.open_purchase_orders_cron" in message and "'none'" in message


def test_sap_b1_tax_account_and_ca_bundle_are_kept() -> None:
    erp = TenantConfig.model_validate(
        tenant_dict(sap(sap_b1_tax_account="_SYS00000002300", ca_bundle="/etc/b1/ca.pem"))
    ).erp
    assert (erp.sap_b1_tax_account, erp.ca_bundle) == ("_SYS00000002300", "/etc/b1/ca.pem")


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"sap_b1_tax_account": "2300"}, "sap_b1_tax_account"),
        # Issue 16.12: `ca_bundle` is every connector's now (see test_every_erp_takes_...).
    ],
)
def test_sap_b1_fields_on_another_erp_are_refused_not_ignored(
    extra: dict[str, str], needle: str
) -> None:
    # https: since issue 16.12 a plain-HTTP URL off loopback is a problem of its own.
    erp = {"kind": "syspro", "base_url": "https://s", "company": "C", "username": "u", **extra}
    ((loc, message),) = problems_of(tenant_dict(erp))
    assert loc == "erp" and needle in message and "SAP B1" in message


def syspro(**extra: Any) -> dict[str, Any]:
    return {"kind": "syspro", "base_url": "https://s.example", "company": "C", "username": "u",
            "password": FAKE, **extra}  # fmt: skip


@pytest.mark.parametrize("erp", [sap, syspro])
def test_every_erp_takes_a_ca_bundle(erp: Any) -> None:
    kept = TenantConfig.model_validate(tenant_dict(erp(ca_bundle="/etc/erp/ca.pem"))).erp
    assert kept.ca_bundle == "/etc/erp/ca.pem"


@pytest.mark.parametrize("erp", [sap, syspro])
@pytest.mark.parametrize(
    ("field", "url"),
    [
        ("base_url", "http://erp.example:50000"),
        ("base_url", "http://10.0.0.7:8080/SYSPROWCFService/Rest"),
        ("base_url", "HTTP://erp.example"),
        ("base_url", "http://127.0.0.1.example.com"),
    ],
)
def test_plain_http_off_this_machine_is_refused_naming_the_field(
    erp: Any, field: str, url: str
) -> None:
    ((loc, message),) = problems_of(tenant_dict(erp(**{field: url})))
    assert loc == f"erp.{field}" and "https" in message and "allow_plaintext" in message


def test_every_erp_url_is_held_to_https_not_only_base_url() -> None:
    url = "http://erp.example/SYSPRO8Odata/SYSPROOData"
    ((loc, message),) = problems_of(tenant_dict(syspro(odata_url=url)))
    assert loc == "erp.odata_url" and "https" in message


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8101",
        "http://127.3.2.1/x",
        "http://localhost:8101",
        "http://[::1]:8101/SYSPROWCFService/Rest",
        "https://erp.example",
    ],
)
def test_https_or_loopback_needs_nothing(url: str) -> None:
    assert TenantConfig.model_validate(tenant_dict(syspro(base_url=url))).erp.base_url == url


def test_plain_http_with_a_stated_reason_is_allowed() -> None:
    erp = syspro(
        base_url="http://syspro.lan:20080",
        odata_url="http://syspro.lan:20081/SYSPRO8Odata/SYSPROOData",
        allow_plaintext=True,
        plaintext_reason="e.net has no TLS on this install; isolated VLAN, ticket OPS-42",
    )
    kept = TenantConfig.model_validate(tenant_dict(erp)).erp
    assert kept.allow_plaintext and kept.base_url == "http://syspro.lan:20080"


def test_allow_plaintext_needs_a_reason_and_a_reason_needs_allow_plaintext() -> None:
    ((loc, message),) = problems_of(
        tenant_dict(syspro(base_url="http://syspro.lan", allow_plaintext=True))
    )
    assert loc == "erp.base_url" and "plaintext_reason" in message
    ((loc, message),) = problems_of(tenant_dict(syspro(plaintext_reason="because")))
    assert loc == "erp.plaintext_reason" and "allow_plaintext" in message


def test_a_url_without_scheme_or_host_is_refused() -> None:
    ((loc, message),) = problems_of(tenant_dict(syspro(base_url="erp.example:8080")))
    assert loc == "erp.base_url" and "http(s) URL" in message


def test_a_relative_ca_bundle_is_refused() -> None:
    ((loc, message),) = problems_of(tenant_dict(sap(ca_bundle="certs/b1.pem")))
    assert loc == "erp.ca_bundle" and "absolute" in message


def write_tenant(folder: Path, keyring: Keyring, tenant_id: str, erp: str, **extra: str) -> Path:
    folder.mkdir(exist_ok=True)
    lines = [
        f"id: {tenant_id}",
        f"name: {tenant_id.title()}",
        "sftp:",
        "  host: sftp.example",
        "  username: stampli",
        f"  host_key: {HOST_KEY}",
        f"  password: {keyring.encrypt(tenant_id, 'sftp.password', 'pw')}",
        "erp:",
        f"  kind: {erp}",
        "  base_url: https://erp.example:50000",
        "  company: C",
        "  username: u",
        f"  password: {keyring.encrypt(tenant_id, 'erp.password', 'pw')}",
    ]
    lines += [f"  {k}: {v}" for k, v in extra.items() if k != "cron"]
    if "cron" in extra:
        lines += ["schedules:", f'  open_purchase_orders_cron: "{extra["cron"]}"']
    path = folder / f"{tenant_id}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_tenants_check_names_file_and_field_for_a_missing_or_bad_ca_bundle(
    tmp_path: Path, tenant_keyring: Keyring
) -> None:
    folder = tmp_path / "tenants"
    not_pem = tmp_path / "notes.txt"
    not_pem.write_text("not a certificate\n")
    missing = tmp_path / "gone" / "ca.pem"
    a = write_tenant(folder, tenant_keyring, "acme", "sap_b1", ca_bundle=str(missing))
    b = write_tenant(folder, tenant_keyring, "globex", "sap_b1", ca_bundle=str(not_pem))
    good = make_pki(tmp_path / "pki").ca
    write_tenant(folder, tenant_keyring, "initech", "sap_b1", ca_bundle=str(good))
    problems = {(p.file, p.field): p.message for p in check_tenants(folder, tenant_keyring)}
    no_pem = "holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
    assert problems == {
        (str(a), "erp.ca_bundle"): f"{missing} not found",
        (str(b), "erp.ca_bundle"): f"{not_pem} {no_pem}",
    }


def test_tenants_check_refuses_open_purchase_orders_from_an_erp_without_them(
    tmp_path: Path, tenant_keyring: Keyring
) -> None:
    folder = tmp_path / "tenants"
    syspro = write_tenant(folder, tenant_keyring, "acme", "syspro", cron="0 */2 * * *")
    write_tenant(folder, tenant_keyring, "globex", "sap_b1", cron="0 */2 * * *")
    result = CliRunner().invoke(tenants_cli, ["check", "--dir", str(folder)])
    assert result.exit_code == 1
    assert (
        f"{syspro}: schedules.open_purchase_orders_cron: the syspro adapter does not read "
        "purchase orders" in result.output
    )
    assert "globex" not in result.output
