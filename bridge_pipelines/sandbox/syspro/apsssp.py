"""APSSSP, `SetupApSupplier`: supplier maintenance through `/Setup/Add`, `Update` and `Delete`.

Add refuses an existing supplier, Update and Delete a missing one; Delete also refuses a
supplier with invoices. Update changes only the elements present in the Item. Currency and
terms must exist; flags are Y/N; lengths follow the `ApSupplier` columns.
[I] The output root (`setupapsupplier`, with `Key`, `ItemNumber` and `ErrorDescription` per
Item and `StatusOfItems`) mirrors the APSTIN output; no sample of SYSPRO's own was found.
"""

from typing import Literal

from lxml import etree

from bridge_pipelines.sandbox.erp_base.store import StateStore
from bridge_pipelines.sandbox.syspro.seed import LOCAL_CURRENCY
from bridge_pipelines.sandbox.syspro.xml_codec import (
    XmlInError,
    count_text,
    element,
    parse,
    render,
    sub,
    text,
)

SetupAction = Literal["add", "update", "delete"]
MAX_LENGTHS = {
    "Supplier": 15,
    "SupplierName": 50,
    "SupShortName": 20,
    "SupplierType": 1,
    "SupplierClass": 10,
    "Branch": 10,
    "Currency": 3,
    "TermsCode": 2,
    "TaxRegnNum": 20,
    "Email": 255,
    "Telephone": 20,
    "SupAddr1": 40,
    "SupAddr2": 40,
    "SupAddr3": 40,
    "SupAddr4": 40,
    "SupAddr5": 40,
    "SupPostalCode": 10,
    "OnHold": 1,
    "PayByEft": 1,
    "BankAccount": 20,
    "GrnMatchReqd": 1,
}
FLAGS = ("OnHold", "PayByEft", "GrnMatchReqd")
DEFAULTS = {"SupplierType": "P", "OnHold": "N", "GrnMatchReqd": "Y", "Currency": LOCAL_CURRENCY}


def _fields(item: etree._Element) -> dict[str, str]:
    """The maintainable elements present in the Item (present but empty means blank it)."""
    present: dict[str, str] = {}
    for child in item:
        if isinstance(child.tag, str) and child.tag in MAX_LENGTHS and child.tag != "Supplier":
            present[child.tag] = (child.text or "").strip()
    return present


def _check(store: StateStore, fields: dict[str, str], errors: list[str]) -> None:
    for name, value in fields.items():
        if len(value) > MAX_LENGTHS[name]:
            errors.append(f"{name} exceeds {MAX_LENGTHS[name]} characters")
    for flag in FLAGS:
        if flag in fields and fields[flag].upper() not in ("Y", "N"):
            errors.append(f"{flag} must be Y or N")
    if "Currency" in fields and not store.rows(
        "SELECT 1 FROM currencies WHERE Currency = ?", (fields["Currency"],)
    ):
        errors.append(f"Currency '{fields['Currency']}' not found")
    if fields.get("TermsCode") and not store.rows(
        "SELECT 1 FROM terms WHERE TermsCode = ?", (fields["TermsCode"],)
    ):
        errors.append(f"Terms code '{fields['TermsCode']}' not found")


def _apply(store: StateStore, action: SetupAction, supplier: str, fields: dict[str, str]) -> None:
    with store.transaction() as conn:
        if action == "add":
            row = {**DEFAULTS, **fields, "Supplier": supplier}
            row.setdefault("SupShortName", row.get("SupplierName", "")[:20])
            names = ", ".join(row)
            marks = ", ".join("?" for _ in row)
            conn.execute(f"INSERT INTO ApSupplier ({names}) VALUES ({marks})", list(row.values()))
        elif action == "update" and fields:
            assignments = ", ".join(f"{name} = ?" for name in fields)
            conn.execute(
                f"UPDATE ApSupplier SET {assignments} WHERE Supplier = ?",
                [*fields.values(), supplier],
            )
        elif action == "delete":
            conn.execute("DELETE FROM ApSupplier WHERE Supplier = ?", (supplier,))


def setup_supplier(
    store: StateStore, action: SetupAction, xml_parameters: str, xml_in: str
) -> bytes:
    """Run APSSSP for one Setup call; the answer is XML with errors per Item."""
    parameters = parse(xml_parameters, "XmlParameters") if xml_parameters else None
    params = parameters.find("Parameters") if parameters is not None else None
    validate_only = (text(params, "ValidateOnly") or "N").upper() == "Y"
    root = parse(xml_in)
    if root.tag != "SetupApSupplier":
        raise XmlInError(f"XmlIn root must be SetupApSupplier, not {root.tag}")
    out = element("setupapsupplier")
    processed = invalid = 0
    for number, item in enumerate(root.findall("Item"), start=1):
        supplier = text(item.find("Key"), "Supplier")
        fields = {k: v.upper() if k in FLAGS else v for k, v in _fields(item).items()}
        errors: list[str] = []
        exists = bool(store.rows("SELECT 1 FROM ApSupplier WHERE Supplier = ?", (supplier,)))
        if not supplier:
            errors.append("Supplier is required")
        elif len(supplier) > MAX_LENGTHS["Supplier"]:
            errors.append(f"Supplier exceeds {MAX_LENGTHS['Supplier']} characters")
        elif action == "add" and exists:
            errors.append(f"Supplier '{supplier}' already exists")
        elif action != "add" and not exists:
            errors.append(f"Supplier '{supplier}' not found")
        elif action == "delete" and store.rows(
            "SELECT 1 FROM ApInvoice WHERE Supplier = ? LIMIT 1", (supplier,)
        ):
            errors.append(f"Supplier '{supplier}' has transactions and cannot be deleted")
        if action == "add" and not fields.get("SupplierName"):
            errors.append("Supplier name is required")
        if action != "delete":
            _check(store, fields, errors)
        node = sub(out, "Item")
        sub(sub(node, "Key"), "Supplier", supplier)
        sub(node, "ItemNumber", f"{number:06d}")
        for message in errors:
            sub(node, "ErrorDescription", message)
        if errors:
            invalid += 1
        elif not validate_only:
            _apply(store, action, supplier, fields)
            processed += 1
    status = sub(out, "StatusOfItems")
    sub(status, "ItemsProcessed", count_text(processed))
    sub(status, "ItemsInvalid", count_text(invalid))
    return render(out)
