"""Request bodies the contract tests post, shaped as public B1 clients send them."""

from datetime import date, timedelta
from typing import Any

SUPPLIER = "V10001"
EXPENSE = "_SYS00000006100"
AP_CONTROL = "_SYS00000002000"
# Dated today: the seeded period calendar takes postings in the current month.
TODAY = date.today().isoformat()
DUE = (date.today() + timedelta(days=30)).isoformat()


def service_invoice(
    ref: str = "INV-1001", card_code: str = SUPPLIER, **overrides: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "CardCode": card_code,
        "DocType": "dDocument_Service",
        "DocDate": TODAY,
        "DocDueDate": DUE,
        "TaxDate": TODAY,
        "NumAtCard": ref,
        "DocCurrency": "USD",
        "Comments": "Stampli invoice",
        "DocumentLines": [
            {"ItemDescription": "Steel", "AccountCode": EXPENSE, "LineTotal": 1000.0,
             "CostingCode": "EAST", "ProjectCode": "P001"},
            {"ItemDescription": "Freight", "AccountCode": "_SYS00000006200", "LineTotal": 25.5},
        ],
    }  # fmt: skip
    body.update(overrides)
    return body


def journal(ref: str = "INV-1001", debit: float = 100.0, credit: float = 100.0) -> dict[str, Any]:
    return {
        "ReferenceDate": TODAY,
        "Memo": "Stampli invoice",
        "Reference": ref,
        "JournalEntryLines": [
            {"AccountCode": EXPENSE, "Debit": debit, "Credit": 0, "CostingCode": "EAST",
             "ProjectCode": "P001", "LineMemo": "Steel"},
            {"AccountCode": AP_CONTROL, "ShortName": SUPPLIER, "Debit": 0, "Credit": credit},
        ],
    }  # fmt: skip


def supplier(card_code: str = "V19999", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "CardCode": card_code,
        "CardName": "New Supplier",
        "CardType": "cSupplier",
    }
    return {**body, "GroupCode": 101, "FederalTaxID": "12-3456789", "Currency": "USD", **overrides}
