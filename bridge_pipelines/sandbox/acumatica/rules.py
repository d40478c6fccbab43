"""What Acumatica checks and fills in when a record is saved, released or paid.

A PUT body, unwrapped and merged onto the stored record, goes through its entity's rule: a
dict of field errors comes back (`{"Vendor": "'Vendor' cannot be found in the system."}`,
`{"Details[1].Account": ...}`), empty when the record may be saved. Field texts follow the
product's [C: erp-facts §4, `'Customer' cannot be found in the system.`]; the others are [I].
"""

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from bridge_pipelines.sandbox.acumatica import store as db
from bridge_pipelines.sandbox.acumatica.entities import ENTITIES
from bridge_pipelines.sandbox.acumatica.query import instant
from bridge_pipelines.sandbox.erp_base import calendar
from bridge_pipelines.sandbox.erp_base.store import StateStore

Errors = dict[str, str]
BILL_TYPES = ("Bill", "Debit Adj.", "Credit Adj.", "Prepayment")
UNRELEASED = ("On Hold", "Balanced")


def _find(store: StateStore, entity: str, key: str) -> dict[str, Any] | None:
    return db.by_key(store, ENTITIES[entity], key)


def _missing(label: str) -> str:
    return f"'{label}' cannot be found in the system."


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _money(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


def vendor(store: StateStore, record: dict[str, Any], ctx: dict[str, Any]) -> Errors:
    """A vendor needs a name; its status defaults to Active."""
    errors: Errors = {}
    if not record.get("VendorName"):
        errors["VendorName"] = "'Vendor Name' cannot be empty."
    record.setdefault("Status", "Active")
    record["LastModifiedDateTime"] = ctx["now"]
    return errors


def bill(store: StateStore, record: dict[str, Any], ctx: dict[str, Any]) -> Errors:
    """Vendor, dates, period, lines' branch/account/subaccount/project/PO, balance."""
    errors: Errors = {}
    if record.get("Status") not in (None, *UNRELEASED):
        return {"": "The document has been released and cannot be changed."}
    if record.get("Type") not in BILL_TYPES:
        errors["Type"] = f"'{record.get('Type')}' is not a valid document type."
    supplier = _find(store, "Vendor", str(record.get("Vendor") or ""))
    if supplier is None:
        errors["Vendor"] = _missing("Vendor")
    elif supplier.get("Status") not in ("Active", "One-Time"):
        errors["Vendor"] = f"The vendor status is '{supplier.get('Status')}'."
    day = _day(record.get("Date"))
    if day is None:
        errors["Date"] = "'Date' cannot be empty."
    else:
        record["Date"] = instant(f"{day.isoformat()}T00:00:00+00:00")
        period = str(record.get("PostPeriod") or f"{day.month:02d}{day.year:04d}")
        record["PostPeriod"] = period
        status = ctx["period_status"](int(period[2:]), int(period[:2])) if len(period) == 6 else ""
        if status == calendar.CLOSED:
            errors["PostPeriod"] = f"The {period[:2]}-{period[2:]} financial period is closed."
        elif status == calendar.NOT_OPEN:
            errors["PostPeriod"] = f"The {period[:2]}-{period[2:]} financial period is inactive."
    if record.get("DueDate"):
        due = _day(record["DueDate"])
        record["DueDate"] = instant(f"{due.isoformat()}T00:00:00+00:00") if due else None
    vendor_ref = str(record.get("VendorRef") or "")
    if ctx["duplicate_vendor_ref"] and vendor_ref and not errors.get("Vendor"):
        for other in db.query(
            store,
            "Bill",
            "json_extract(body, '$.Vendor') = ? AND json_extract(body, '$.VendorRef') = ? "
            "AND id <> ?",
            [record.get("Vendor"), vendor_ref, record.get("id") or ""],
        ):
            errors["VendorRef"] = (
                f"The document with the same vendor reference number already exists: "
                f"{other['Type']} {other['ReferenceNbr']}."
            )
    lines = record.get("Details") or []
    if not lines:
        errors["Details"] = "The document has no lines."
    total = Decimal(0)
    for n, line in enumerate(lines, start=1):
        line.pop("id", None)
        where = f"Details[{n}]."
        line.setdefault("Branch", ctx["branch"])
        for name in ("Branch", "Account", "Subaccount", "Project"):
            entity = label = name
            code = line.get(name)
            if code in (None, ""):
                if name in ("Account",):
                    errors[where + name] = f"'{label}' cannot be empty."
                continue
            found = _find(store, entity, str(code))
            if found is None:
                errors[where + name] = _missing(label)
            elif not (
                found.get("Status") == "Active" if name == "Project" else found.get("Active")
            ):
                errors[where + name] = f"The {label.lower()} '{code}' is inactive."
        line.setdefault("Project", "X")
        if line.get("POOrderNbr"):
            po_type = line.setdefault("POOrderType", "Normal")
            po = _find(store, "PurchaseOrder", f"{po_type}/{line['POOrderNbr']}")
            if po is None or po.get("VendorID") != record.get("Vendor"):
                errors[where + "POOrderNbr"] = _missing("PO Number")
            elif po.get("Status") != "Open":
                errors[where + "POOrderNbr"] = (
                    f"The purchase order {line['POOrderNbr']} is {po.get('Status')}."
                )
        cost = line.get("ExtendedCost")
        if cost is None and line.get("Qty") is not None and line.get("UnitCost") is not None:
            cost = _money(line["Qty"]) * _money(line["UnitCost"])
        line["ExtendedCost"] = _money(cost)
        line["Amount"] = line["ExtendedCost"]
        total += line["ExtendedCost"]
    if record.get("Amount") is not None and _money(record["Amount"]) != total and not errors:
        errors["Amount"] = "The document is out of balance."
    record["Amount"] = total
    record["Balance"] = total
    record["Status"] = "On Hold" if record.get("Hold") else "Balanced"
    record.setdefault("BranchID", ctx["branch"])
    record.setdefault("Applications", [])
    record["LastModifiedDateTime"] = ctx["now"]
    return errors


def release_bill(store: StateStore, record: dict[str, Any]) -> str | None:
    """Release a bill in place; the error text when it cannot be."""
    status = record.get("Status")
    if status == "On Hold":
        return "The document is on hold and cannot be released."
    if status != "Balanced":
        return f"The document has already been released (status {status})."
    record["Status"] = "Open"
    return None


def pay(
    store: StateStore, vendor_id: str, applications: list[tuple[str, Decimal]], ctx: dict[str, Any]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A released check applying `(bill ReferenceNbr, amount)` pairs, and the bills it changed.

    Raises:
        ValueError: a bill that is not this vendor's, not released, or paid beyond its balance.
    """
    bills = []
    for number, amount in applications:
        found = _find(store, "Bill", f"Bill/{number}")
        if found is None or found.get("Vendor") != vendor_id:
            raise ValueError(f"bill {number} of vendor {vendor_id} not found")
        if found.get("Status") != "Open":
            raise ValueError(f"bill {number} is {found.get('Status')}, not released and open")
        if amount <= 0 or amount > _money(found.get("Balance")):
            raise ValueError(f"{amount} is more than bill {number}'s balance {found['Balance']}")
        bills.append((found, amount))
    check = {
        "Type": "Payment",
        "Vendor": vendor_id,
        "PaymentMethod": ctx.get("method") or "CHECK",
        "CashAccount": "10100",
        "PaymentRef": ctx.get("payment_ref") or "",
        "ApplicationDate": instant(f"{ctx['date']}T00:00:00+00:00"),
        "PaymentAmount": sum((a for _, a in bills), Decimal(0)),
        "CurrencyID": "USD",
        "Status": "Closed",
        "Hold": False,
        "Description": ctx.get("description") or "",
        "LastModifiedDateTime": ctx["now"],
        "Details": [],
    }
    for found, amount in bills:
        balance = _money(found["Balance"]) - amount
        found["Balance"] = balance
        found["Status"] = "Closed" if balance == 0 else "Open"
        check["Details"].append(
            {"DocType": "Bill", "ReferenceNbr": found["ReferenceNbr"], "AmountPaid": amount,
             "Balance": balance}
        )  # fmt: skip
        found.setdefault("Applications", []).append(
            {"DocType": "Payment", "ReferenceNbr": "", "AmountPaid": amount, "Balance": balance,
             "ApplicationDate": check["ApplicationDate"]}
        )  # fmt: skip
        found["LastModifiedDateTime"] = ctx["now"]
    return check, [b for b, _ in bills]


def generic(store: StateStore, record: dict[str, Any], ctx: dict[str, Any]) -> Errors:
    """No business rule: any well-formed record is saved."""
    return {}


RULES: dict[str, Callable[[StateStore, dict[str, Any], dict[str, Any]], Errors]] = {
    "Vendor": vendor,
    "Bill": bill,
}
