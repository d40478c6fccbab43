"""The demo's partner: Acme's parent company, whose legacy ERP takes files over SFTP only.

`acme` is the SYSPRO demo tenant, and the seed's story is a SYSPRO manufacturer sending its
monthly close to its parent: so the partner is added to acme rather than to a new tenant (a
second SYSPRO tenant would need a second SYSPRO sandbox company for no new behaviour). The
partner's server is an embedded SFTP server with its own host key and password; it receives the
month's GL journal (fixed width, cp1252, CRLF, grouped by cost centre), the AP invoices (X12
810) and the purchase orders (CSV).
"""

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from bridge_pipelines.sandbox.demo_company import DEMO_COMPANY
from bridge_pipelines.sandbox.sftp_server import EmbeddedSftpServer
from bridge_pipelines.sandbox.syspro.seed import SYSPRO_SEED

PARTNER_ID = "parent_erp"
PARTNER_USER = "acme_upload"
PARTNER_FOLDER = "/inbound"

Encrypt = Callable[[str, str], str]
"""(field, plaintext) -> ciphertext sealed to the tenant and that field."""


def partner_accounts() -> dict[str, str]:
    """SYSPRO ledger code -> the parent's chart (`10-6100` -> `6100-000`), every seeded code."""
    return {c.gl_code: f"{c.gl_code.removeprefix('10-')}-000" for c in SYSPRO_SEED.ledger_codes}


def partner_cost_centres() -> dict[str, str]:
    """SYSPRO cost centre -> the parent's (`CC-EAST` -> `ACM-EAST`)."""
    return {cc: f"ACM-{cc.removeprefix('CC-')}" for cc in DEMO_COMPANY.cost_centers}


GL_FIXED_WIDTH: dict[str, Any] = {
    "dataset": "gl_journal",
    "format": "fixed_width",
    "name": "ACME_GL_{period}_{seq:02d}.txt",
    "encoding": "cp1252",
    "line_ending": "crlf",
    "group_by_cost_centre": True,
    "fields": [
        {"field": "cost_centre", "width": 10},
        {"field": "account", "width": 12},
        {"field": "date", "width": 8},
        {"field": "journal", "width": 8, "align": "right", "pad": "0"},
        {"field": "entry", "width": 4, "align": "right", "pad": "0"},
        {"field": "amount", "width": 15, "align": "right", "pad": "0", "decimals": 2},
        {"field": "reference", "width": 20},
        {"field": "comment", "width": 30},
    ],
}
INVOICES_810: dict[str, Any] = {
    "dataset": "ap_invoices",
    "format": "x12_810",
    "name": "ACME_810_{period}_{seq:02d}.x12",
    "encoding": "ascii",
    "line_ending": "lf",
}
PURCHASE_ORDERS_CSV: dict[str, Any] = {
    "dataset": "purchase_orders",
    "format": "csv",
    "name": "ACME_PO_{period}_{seq:02d}.csv",
    "line_ending": "crlf",
    "columns": [
        {"header": "PO Number", "field": "purchase_order"},
        {"header": "Line", "field": "line"},
        {"header": "Supplier", "field": "supplier"},
        {"header": "Supplier Name", "field": "supplier_name"},
        {"header": "Order Date", "field": "order_date"},
        {"header": "Due Date", "field": "due_date"},
        {"header": "Item", "field": "stock_code"},
        {"header": "Description", "field": "description"},
        {"header": "Quantity", "field": "quantity"},
        {"header": "UOM", "field": "uom"},
        {"header": "Unit Price", "field": "price"},
        {"header": "Amount", "field": "amount"},
    ],
}


def partner_document(
    *,
    port: int,
    host_key: str,
    password: str,
    encrypt: Encrypt,
    files: list[dict[str, Any]] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """The partners file's content for the demo partner (secrets sealed by `encrypt`)."""
    partner: dict[str, Any] = {
        "id": PARTNER_ID,
        "name": "Acme Holdings (parent company legacy ERP)",
        "sftp": {
            "host": "127.0.0.1",
            "port": port,
            "username": PARTNER_USER,
            "host_key": host_key,
            "password": encrypt(f"partners.{PARTNER_ID}.sftp.password", password),
            "connect_timeout_s": 10,
        },
        "folder": PARTNER_FOLDER,
        "calendar": {"cadence": "monthly", "business_day": 3, "at": "06:00:00"},
        "x12": {
            "sender_qualifier": "ZZ",
            "sender_id": "ACMEMFG",
            "receiver_qualifier": "ZZ",
            "receiver_id": "ACMEHOLDINGS",
            "usage": "T",
        },
        "accounts": partner_accounts(),
        "cost_centres": partner_cost_centres(),
        "files": files
        if files is not None
        else [GL_FIXED_WIDTH, INVOICES_810, PURCHASE_ORDERS_CSV],
        **overrides,
    }
    return {"partners": [partner]}


def write_partners_file(path: Path, document: dict[str, Any]) -> Path:
    """Write the partners file (reviewable YAML; secrets are ciphertext)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (
        "# Partners of this tenant: where its SYSPRO month goes, in which files (issue 14).\n"
        "# Secret fields are ciphertext bound to the tenant and field (partners.<id>.sftp.*).\n"
    )
    path.write_text(header + yaml.safe_dump(document, sort_keys=False))
    return path


def start_partner_server(
    home: Path, tenant_id: str, tenants_dir: Path, encrypt: Encrypt
) -> EmbeddedSftpServer:
    """Start the partner's SFTP server and write the tenant's partners file pointing at it.

    The server is embedded, with its own host key (pinned in the file) and a random password
    kept 0600 beside the demo; the file is rewritten at every start (the port may change).
    """
    root = home / "partner_sftp" / tenant_id
    (root / PARTNER_FOLDER.strip("/")).mkdir(parents=True, exist_ok=True)
    secret_file = home / "credentials" / f"{tenant_id}.partner.txt"
    if not secret_file.exists():
        secret_file.parent.mkdir(parents=True, exist_ok=True)
        secret_file.touch(mode=0o600)
        secret_file.write_text(secrets.token_urlsafe(18))
    password = secret_file.read_text().strip()
    server = EmbeddedSftpServer(
        root,
        users={PARTNER_USER: password},
        host_key_path=home / "host_keys" / f"{tenant_id}_partner_ed25519",
    )
    server.start()
    document = partner_document(
        port=server.port, host_key=server.host_key_line, password=password, encrypt=encrypt
    )
    write_partners_file(tenants_dir / "partners" / f"{tenant_id}.yaml", document)
    return server
