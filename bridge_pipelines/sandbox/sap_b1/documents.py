"""Entity sets and the business rules B1 enforces when one is created or patched.

Error codes and texts marked [C] are in `erp-facts.md` (SAP B1 table); those marked [I] are the
likeliest answer (the code family is right, the exact text is not confirmed).
"""

import dataclasses
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date as Date
from decimal import Decimal, InvalidOperation
from typing import Any

from bridge_pipelines.sandbox.erp_base import calendar
from bridge_pipelines.sandbox.erp_base.store import StateStore
from bridge_pipelines.sandbox.sap_b1.store import (
    count_records,
    get_record,
    insert_record,
    next_number,
    replace_record,
)


class B1Error(Exception):
    """An error the Service Layer answers with its error body."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


# [I] B1's posting periods are created a fiscal year at a time: the current and previous months
# are open, the next one too, older and later ones locked (`PeriodStat` Y) in the seed.
PERIOD_RULE = calendar.CalendarRule(open_back=1, open_ahead=1, later=calendar.CLOSED)
# [C] the Service Layer's answer to a document dated in a locked period: code -4013 (a live
# capture in a public operator's notes; tests of a public client), this text verbatim (a public
# client compares the whole message to it).
PERIOD_LOCKED = -4013
PERIOD_LOCKED_MESSAGE = "Posting period locked; specify an alternative date"


def _period_open(value: Any, config: dict[str, Any], where: str) -> str:
    """The posting date, once its period takes postings; B1's refusal otherwise."""
    text = str(value)
    try:
        day = Date.fromisoformat(text[:10])
    except ValueError:
        raise B1Error(400, -1000, f"Invalid date value '{text}' {where}") from None  # [I]
    today = Date.fromisoformat(config["today"])
    status = calendar.status_of(config, today, day.year, day.month, PERIOD_RULE)
    if status != calendar.OPEN:
        raise B1Error(400, PERIOD_LOCKED, PERIOD_LOCKED_MESSAGE)
    return text


@dataclass(frozen=True)
class EntitySet:
    """One entity set: its key, its B1 type name (used in messages), its properties."""

    name: str
    key: str
    type_name: str
    properties: frozenset[str]
    lines: str = ""
    line_type: str = ""
    line_properties: frozenset[str] = frozenset()
    int_key: bool = False
    writable: bool = False
    # Further collections of complex values (BP addresses, contacts): name -> (type, properties).
    collections: Mapping[str, tuple[str, frozenset[str]]] = dataclasses.field(default_factory=dict)
    # Properties the service assigns or computes: refused in a POST or PATCH body.
    read_only: frozenset[str] = frozenset()
    deletable: bool = False
    # Bound actions (`POST <Set>(key)/<Action>`) the set's entities accept.
    actions: tuple[str, ...] = ()
    # [C] ETag-enabled objects as of 10.0 FP 2102 (sbo-skills etag-entities-and-metadata.md).
    etag: bool = False

    @property
    def scalar_properties(self) -> frozenset[str]:
        return self.properties - {self.lines} - set(self.collections)

    def collection_properties(self) -> dict[str, tuple[str, frozenset[str]]]:
        """Every complex collection: the lines (when the set has them) and the others."""
        lines = {self.lines: (self.line_type, self.line_properties)} if self.lines else {}
        return {**lines, **self.collections}


_DOC = frozenset(
    [
        "DocEntry",
        "DocNum",
        "DocType",
        "DocDate",
        "DocDueDate",
        "TaxDate",
        "CardCode",
        "CardName",
        "NumAtCard",
        "DocCurrency",
        "DocRate",
        "DocTotal",
        "VatSum",
        "Comments",
        "JournalMemo",
        "Reference1",
        "Reference2",
        "Cancelled",
        "DocumentStatus",
        "Series",
        "Project",
        "PaymentGroupCode",
        "DocumentLines",
        # Common header fields of the real Document (widened for generic clients).
        "DocTime",
        "Address",
        "Address2",
        "DocTotalFc",
        "DocTotalSys",
        "PaidToDate",
        "DiscountPercent",
        "TotalDiscount",
        "PaymentMethod",
        "SalesPersonCode",
        "DocumentsOwner",
        "FederalTaxID",
        "ControlAccount",
        "Confirmed",
        "CreationDate",
        "UpdateDate",
        "CancelDate",
    ]
)
_DOC_LINE = frozenset(
    [
        "LineNum",
        "ItemCode",
        "ItemDescription",
        "Quantity",
        "Price",
        "UnitPrice",
        "AccountCode",
        "LineTotal",
        "TaxCode",
        "VatGroup",
        "CostingCode",
        "CostingCode2",
        "CostingCode3",
        "CostingCode4",
        "CostingCode5",
        "ProjectCode",
        "FreeText",
        "BaseType",
        "BaseEntry",
        "BaseLine",
        "LineStatus",
        "Currency",
        "DiscountPercent",
        "WarehouseCode",
        "LineType",
    ]
)
_JE = frozenset(
    [
        "JdtNum",
        "ReferenceDate",
        "DueDate",
        "TaxDate",
        "Memo",
        "Reference",
        "Reference2",
        "Reference3",
        "TransactionCode",
        "ProjectCode",
        "Series",
        "JournalEntryLines",
    ]
)
_JE_LINE = frozenset(
    [
        "Line_ID",
        "AccountCode",
        "ShortName",
        "Debit",
        "Credit",
        "FCDebit",
        "FCCredit",
        "FCCurrency",
        "LineMemo",
        "CostingCode",
        "CostingCode2",
        "CostingCode3",
        "CostingCode4",
        "CostingCode5",
        "ProjectCode",
        "Reference1",
        "Reference2",
        "DueDate",
        "TaxDate",
    ]
)
_BP = frozenset(
    [
        "CardCode",
        "CardName",
        "CardType",
        "GroupCode",
        "FederalTaxID",
        "Currency",
        "Series",
        "EmailAddress",
        "Phone1",
        "Address",
        "City",
        "ZipCode",
        "Country",
        "PayTermsGrpCode",
        "Valid",
        "Frozen",
        "CardForeignName",
        "Notes",
        # Common fields of the real BusinessPartner (widened for generic clients).
        "Phone2",
        "Cellular",
        "Fax",
        "Website",
        "ContactPerson",
        "MailAddress",
        "MailCity",
        "MailZipCode",
        "MailCountry",
        "BillToState",
        "ShipToState",
        "VatLiable",
        "DebitorAccount",
        "CreditLimit",
        "CurrentAccountBalance",
        "OpenDeliveryNotesBalance",
        "OpenOrdersBalance",
        "BPAddresses",
        "ContactEmployees",
    ]
)
# [I] balances are the company's to compute: read-only, refused in a write.
_BP_BALANCES = frozenset({"CurrentAccountBalance", "OpenDeliveryNotesBalance", "OpenOrdersBalance"})
_BP_ADDRESS = frozenset(
    ["AddressName", "AddressName2", "AddressName3", "Street", "Block", "ZipCode", "City",
     "County", "Country", "State", "BuildingFloorRoom", "AddressType", "StreetNo", "BPCode",
     "RowNum", "FederalTaxID", "TaxCode"]
)  # fmt: skip
_BP_CONTACT = frozenset(
    ["CardCode", "Name", "Position", "Address", "Phone1", "Phone2", "MobilePhone", "Fax",
     "E_Mail", "Remarks1", "Title", "FirstName", "MiddleName", "LastName", "Active",
     "InternalCode"]
)  # fmt: skip
_DOC_READ_ONLY = frozenset({"PaidToDate", "DocTotalFc", "DocTotalSys", "CreationDate",
                            "UpdateDate", "CancelDate"})  # fmt: skip

ENTITY_SETS: dict[str, EntitySet] = {
    s.name: s
    for s in (
        EntitySet(
            "PurchaseInvoices",
            "DocEntry",
            "Document",
            _DOC,
            "DocumentLines",
            "DocumentLine",
            _DOC_LINE,
            int_key=True,
            writable=True,
            read_only=_DOC_READ_ONLY,
            actions=("Cancel", "Close"),
            etag=True,
        ),
        EntitySet(
            "PurchaseCreditNotes",
            "DocEntry",
            "Document",
            _DOC,
            "DocumentLines",
            "DocumentLine",
            _DOC_LINE,
            int_key=True,
            writable=True,
            read_only=_DOC_READ_ONLY,
            actions=("Cancel", "Close"),
            etag=True,
        ),
        EntitySet(
            "PurchaseOrders",
            "DocEntry",
            "Document",
            _DOC,
            "DocumentLines",
            "DocumentLine",
            _DOC_LINE,
            int_key=True,
            read_only=_DOC_READ_ONLY,
            actions=("Cancel", "Close"),
            etag=True,
        ),
        EntitySet(
            "JournalEntries",
            "JdtNum",
            "JournalEntry",
            _JE,
            "JournalEntryLines",
            "JournalEntryLine",
            _JE_LINE,
            int_key=True,
            writable=True,
        ),
        EntitySet(
            "BusinessPartners",
            "CardCode",
            "BusinessPartner",
            _BP,
            writable=True,
            collections={
                "BPAddresses": ("BPAddress", _BP_ADDRESS),
                "ContactEmployees": ("ContactEmployee", _BP_CONTACT),
            },
            read_only=_BP_BALANCES,
            deletable=True,
            etag=True,
        ),
        EntitySet(
            "ChartOfAccounts",
            "Code",
            "ChartOfAccount",
            frozenset(["Code", "Name", "FormatCode", "AccountType", "ActiveAccount"]),
        ),
        EntitySet(
            "ProfitCenters",
            "CenterCode",
            "ProfitCenter",
            frozenset(["CenterCode", "CenterName", "InWhichDimension", "Active"]),
        ),
        EntitySet(
            "Projects",
            "Code",
            "Project",
            frozenset(["Code", "Name", "Active", "ValidFrom", "ValidTo"]),
        ),
    )
}

CARD_TYPES = ("cCustomer", "cSupplier", "cLid")
DOC_TYPES = ("dDocument_Items", "dDocument_Service")


def _unknown_properties(body: dict[str, Any], entity: EntitySet) -> None:
    """[C] 400 / -1000 "Property 'X' of 'BusinessPartner' is invalid"."""
    for name in body:
        if name not in entity.properties:
            raise B1Error(400, -1000, f"Property '{name}' of '{entity.type_name}' is invalid")
    for name in body:
        if name in entity.read_only:
            raise B1Error(400, -1000, f"Property '{name}' of '{entity.type_name}' is read-only")
    for collection, (type_name, allowed) in entity.collection_properties().items():
        if collection not in body:
            continue
        lines = body[collection]
        if not isinstance(lines, list) or not all(isinstance(x, dict) for x in lines):
            raise B1Error(400, -1000, f"Property '{collection}' has an invalid value")
        for line in lines:
            for name in line:
                if name not in allowed:
                    raise B1Error(400, -1000, f"Property '{name}' of '{type_name}' is invalid")


def _money(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise B1Error(400, -1000, f"Value of '{where}' is invalid")
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise B1Error(400, -1000, f"Value of '{where}' is invalid") from exc
    return amount.quantize(Decimal("0.01"))


def _account(store: StateStore, code: Any, where: str) -> None:
    """[I] texts: an unknown or inactive G/L account is refused (-5002 / -10)."""
    account = get_record(store, "ChartOfAccounts", code) if isinstance(code, str) else None
    if account is None:
        raise B1Error(400, -5002, f"Invalid account code '{code}' {where}")
    if account["ActiveAccount"] != "tYES":
        raise B1Error(400, -10, f"Account '{code}' is inactive; select an active account {where}")


def _dimension(store: StateStore, line: dict[str, Any], table: str, n: int) -> None:
    """[I] texts: unknown or inactive profit centers and projects are refused."""
    for field in ("CostingCode", "CostingCode2", "CostingCode3", "CostingCode4", "CostingCode5"):
        code = line.get(field)
        if code:
            center = get_record(store, "ProfitCenters", code)
            if center is None or center["Active"] != "tYES":
                raise B1Error(
                    400, -10, f"Invalid distribution rule '{code}' [{table}.OcrCode][line: {n}]"
                )
    project = line.get("ProjectCode")
    if project:
        found = get_record(store, "Projects", project)
        if found is None or found["Active"] != "tYES":
            raise B1Error(
                400, -10, f"Invalid project code '{project}' [{table}.Project][line: {n}]"
            )


def _supplier(store: StateStore, card_code: Any, table: str) -> dict[str, Any]:
    if not card_code:
        raise B1Error(400, -5002, f"Code undefined [{table}.CardCode]")  # [I] as for OCRD
    bp = get_record(store, "BusinessPartners", card_code) if isinstance(card_code, str) else None
    if bp is None or bp["CardType"] != "cSupplier":
        raise B1Error(400, -10, f"Invalid BP code '{card_code}' [{table}.CardCode]")  # [I]
    if bp.get("Frozen") == "tYES" or bp.get("Valid") == "tNO":
        raise B1Error(400, -10, f"Business partner '{card_code}' is inactive [{table}.CardCode]")
    return bp


@dataclass(frozen=True)
class DocumentObject:
    """A marketing document B1 stores in a header table and a line table (OPCH/PCH1, ...)."""

    entity_set: str
    header_table: str
    line_table: str
    journal_memo: str


PURCHASE_INVOICE = DocumentObject("PurchaseInvoices", "OPCH", "PCH1", "A/P Invoices")
# [I] A/P credit memo: B1's object 19 (ORPC/RPC1), the same Document shape as the A/P
# invoice, posted with positive amounts (the object carries the sign).
PURCHASE_CREDIT_NOTE = DocumentObject("PurchaseCreditNotes", "ORPC", "RPC1", "A/P Credit Memos")


def create_purchase_invoice(
    store: StateStore, body: dict[str, Any], config: dict[str, Any]
) -> dict[str, Any]:
    """A/P invoice: service type only; DocEntry and DocNum assigned here."""
    return _create_service_document(store, body, config, PURCHASE_INVOICE)


def create_purchase_credit_note(
    store: StateStore, body: dict[str, Any], config: dict[str, Any]
) -> dict[str, Any]:
    """A/P credit memo: the invoice's rules on its own numbering (DocEntry, DocNum)."""
    return _create_service_document(store, body, config, PURCHASE_CREDIT_NOTE)


def _create_service_document(
    store: StateStore, body: dict[str, Any], config: dict[str, Any], kind: DocumentObject
) -> dict[str, Any]:
    """A service document of `kind`: rules shared by A/P invoices and credit memos."""
    entity = ENTITY_SETS[kind.entity_set]
    head, rows = kind.header_table, kind.line_table
    _unknown_properties(body, entity)
    for assigned in ("DocEntry", "DocNum"):
        if assigned in body:
            raise B1Error(400, -1000, f"Property '{assigned}' of 'Document' is read-only")
    bp = _supplier(store, body.get("CardCode"), head)
    lines = body.get("DocumentLines") or []
    if not lines:
        raise B1Error(400, -5002, f"Document must have at least one row [{rows}.LineNum]")  # [I]
    doc_type = body.get("DocType", "dDocument_Items")
    if doc_type not in DOC_TYPES:
        raise B1Error(400, -1000, f"Enum value '{doc_type}' is invalid for 'DocType'")
    if doc_type == "dDocument_Items":
        # [C] omitting DocType on a service document answers -5002; [I] the text: B1 reads it
        # as an item document and asks for the item of the first line.
        if any(not line.get("ItemCode") for line in lines):
            raise B1Error(400, -5002, f"Item code is missing [{rows}.ItemCode][line: 1]")
        raise B1Error(400, -5002, f"Item documents are not held by this sandbox [{rows}.ItemCode]")
    ref = body.get("NumAtCard")
    if ref is not None and (not isinstance(ref, str) or len(ref) > 100):
        raise B1Error(400, -10, "Value too long in property 'NumAtCard' of 'Document'")
    memo = body.get("JournalMemo")
    if memo is not None and (not isinstance(memo, str) or len(memo) > 50):
        # [I] B1's JrnlMemo ("Journal Remark") holds 50 characters; the text is the -10 family's.
        raise B1Error(400, -10, "Value too long in property 'JournalMemo' of 'Document'")
    if ref and config.get("block_duplicate_vendor_ref"):
        where = "json_extract(body, '$.CardCode') = ? AND json_extract(body, '$.NumAtCard') = ?"
        if count_records(store, kind.entity_set, where, [bp["CardCode"], ref]):
            raise B1Error(400, -10, f"Vendor reference number '{ref}' already exists")  # [I]
    total = Decimal(0)
    clean: list[dict[str, Any]] = []
    for n, line in enumerate(lines):
        if "AccountCode" not in line:
            raise B1Error(400, -5002, f"G/L account is missing [{rows}.AcctCode][line: {n + 1}]")
        _account(store, line["AccountCode"], f"[{rows}.AcctCode][line: {n + 1}]")
        if "LineTotal" not in line:
            raise B1Error(400, -5002, f"Total is missing [{rows}.LineTotal][line: {n + 1}]")
        amount = _money(line["LineTotal"], "LineTotal")
        _dimension(store, line, rows, n + 1)
        total += amount
        clean.append({**line, "LineNum": n, "LineTotal": amount, "LineStatus": "bost_Open"})
    date = _period_open(body.get("DocDate") or config["today"], config, f"[{head}.DocDate]")
    with store.transaction() as conn:
        entry = next_number(conn, f"DocEntry:{kind.entity_set}")
        record = {
            "DocEntry": entry,
            "DocNum": next_number(conn, f"DocNum:{kind.entity_set}", start=1),
            "DocType": doc_type,
            "DocDate": date,
            "DocDueDate": body.get("DocDueDate") or date,
            "TaxDate": body.get("TaxDate") or date,
            "CardCode": bp["CardCode"],
            "CardName": bp["CardName"],
            "NumAtCard": ref,
            "DocCurrency": body.get("DocCurrency") or bp.get("Currency") or "USD",
            "DocTotal": total,
            "VatSum": Decimal(0),
            "PaidToDate": Decimal(0),  # payments (`payments.py`) raise it
            "Comments": body.get("Comments"),
            "JournalMemo": body.get("JournalMemo") or f"{kind.journal_memo} - {bp['CardCode']}",
            "Cancelled": "tNO",
            "DocumentStatus": "bost_Open",
            **{k: v for k, v in body.items() if k not in _DOC_COMPUTED},
            "DocumentLines": clean,
        }
        record["DocTotal"] = total
        insert_record(conn, kind.entity_set, entry, record)
    return record


_DOC_COMPUTED = frozenset(
    {
        "DocEntry",
        "DocNum",
        "CardName",
        "DocTotal",
        "VatSum",
        "PaidToDate",
        "DocumentLines",
        "Cancelled",
        "DocumentStatus",
        "DocDate",
        "DocDueDate",
        "TaxDate",
    }
)


def create_journal_entry(
    store: StateStore, body: dict[str, Any], config: dict[str, Any]
) -> dict[str, Any]:
    """Manual journal entry: balanced only; JdtNum assigned here."""
    entity = ENTITY_SETS["JournalEntries"]
    _unknown_properties(body, entity)
    if "JdtNum" in body:
        raise B1Error(400, -1000, "Property 'JdtNum' of 'JournalEntry' is read-only")
    lines = body.get("JournalEntryLines") or []
    if len(lines) < 2:
        raise B1Error(400, -5002, "Journal entry must have at least two rows")  # [I]
    debit_total = credit_total = Decimal(0)
    clean: list[dict[str, Any]] = []
    for n, line in enumerate(lines):
        where = f"[JDT1.Account][line: {n + 1}]"
        account = line.get("AccountCode")
        short = line.get("ShortName")
        if account is None and short is None:
            raise B1Error(400, -5002, f"G/L account is missing {where}")
        if account is not None:
            _account(store, account, where)
        if short is not None and short != account:
            partner = get_record(store, "BusinessPartners", short)
            if partner is None:
                _account(store, short, f"[JDT1.ShortName][line: {n + 1}]")
        debit = _money(line.get("Debit", 0), "Debit")
        credit = _money(line.get("Credit", 0), "Credit")
        if debit and credit:
            raise B1Error(400, -5002, f"Enter either a debit or a credit amount {where}")  # [I]
        _dimension(store, line, "JDT1", n + 1)
        debit_total += debit
        credit_total += credit
        clean.append({**line, "Line_ID": n, "Debit": debit, "Credit": credit})
    if debit_total != credit_total:
        # [I] the text; the rule (balanced only) is B1's.
        raise B1Error(
            400, -5002, f"Unbalanced transaction: debit {debit_total} credit {credit_total}"
        )
    if debit_total == 0:
        raise B1Error(400, -5002, "Journal entry amount is zero")  # [I]
    date = _period_open(body.get("ReferenceDate") or config["today"], config, "[OJDT.RefDate]")
    with store.transaction() as conn:
        number = next_number(conn, "JdtNum")
        record = {
            "JdtNum": number,
            "ReferenceDate": date,
            "DueDate": body.get("DueDate") or date,
            "TaxDate": body.get("TaxDate") or date,
            "Memo": body.get("Memo"),
            "Reference": body.get("Reference"),
            "Reference2": body.get("Reference2"),
            **{k: v for k, v in body.items() if k != "JournalEntryLines"},
            "JournalEntryLines": clean,
        }
        insert_record(conn, "JournalEntries", number, record)
    return record


def create_business_partner(
    store: StateStore, body: dict[str, Any], config: dict[str, Any]
) -> dict[str, Any]:
    """Business partner: CardCode required and unique [C]."""
    entity = ENTITY_SETS["BusinessPartners"]
    _unknown_properties(body, entity)
    code = body.get("CardCode")
    if not code or not isinstance(code, str):
        raise B1Error(400, -5002, "Code undefined [OCRD.CardCode]")
    if len(code) > 50:
        raise B1Error(400, -10, "Value too long in property 'CardCode' of 'BusinessPartner'")
    card_type = body.get("CardType", "cCustomer")
    if card_type not in CARD_TYPES:
        raise B1Error(400, -1000, f"Enum value '{card_type}' is invalid for 'CardType'")
    record = {"CardName": "", "CardType": card_type, "Valid": "tYES", "Frozen": "tNO",
              "BPAddresses": [], "ContactEmployees": [], **body}  # fmt: skip
    record["BPAddresses"] = [
        {**address, "BPCode": code, "RowNum": n} for n, address in enumerate(record["BPAddresses"])
    ]
    try:
        with store.transaction() as conn:
            insert_record(conn, "BusinessPartners", code, record)
    except sqlite3.IntegrityError as exc:
        raise B1Error(
            400,
            -10,
            f"1320000140 - Business partner code '{code}' already assigned to a business "
            "partner; enter a unique business partner code",
        ) from exc
    return record


CREATORS = {
    "PurchaseInvoices": create_purchase_invoice,
    "PurchaseCreditNotes": create_purchase_credit_note,
    "JournalEntries": create_journal_entry,
    "BusinessPartners": create_business_partner,
}

_LINE_TABLES = {k.entity_set: k.line_table for k in (PURCHASE_INVOICE, PURCHASE_CREDIT_NOTE)}

_READ_ONLY_ON_PATCH = {
    "PurchaseInvoices": frozenset(
        {"DocEntry", "DocNum", "CardCode", "DocType", "DocTotal", "PaidToDate"}
    ),
    "PurchaseCreditNotes": frozenset(
        {"DocEntry", "DocNum", "CardCode", "DocType", "DocTotal", "PaidToDate"}
    ),
    "JournalEntries": frozenset({"JdtNum", "JournalEntryLines"}),
    "BusinessPartners": frozenset({"CardCode"}),
}


def patch_record(store: StateStore, entity: EntitySet, key: Any, body: dict[str, Any]) -> None:
    """PATCH merges the given properties; lines are merged by their line number."""
    _unknown_properties(body, entity)
    current = get_record(store, entity.name, key)
    if current is None:
        raise B1Error(404, -2028, "No matching records found (ODBC -2028)")
    for name in body:
        if name in _READ_ONLY_ON_PATCH.get(entity.name, frozenset()):
            raise B1Error(
                400, -1000, f"Property '{name}' of '{entity.type_name}' cannot be updated"
            )
    if entity.name == "BusinessPartners" and body.get("CardType", "cSupplier") not in CARD_TYPES:
        raise B1Error(400, -1000, f"Enum value '{body['CardType']}' is invalid for 'CardType'")
    merged = {**current, **{k: v for k, v in body.items() if k != entity.lines}}
    if entity.lines and entity.lines in body:
        by_number = {line["LineNum"]: line for line in current[entity.lines]}
        for line in body[entity.lines]:
            number = line.get("LineNum")
            if number not in by_number:
                table = _LINE_TABLES.get(entity.name, "PCH1")
                raise B1Error(400, -5002, f"Line {number} not found [{table}.LineNum]")  # [I]
            if "LineTotal" in line or "AccountCode" in line:
                raise B1Error(400, -5002, "Amounts of a posted document cannot be changed")
            by_number[number] = {**by_number[number], **line}
        merged[entity.lines] = [by_number[n] for n in sorted(by_number)]
    with store.transaction() as conn:
        replace_record(conn, entity.name, key, merged)


# [I] the business partner's documents that keep it from being deleted (B1 refuses to remove
# a partner with transactions).
_BP_DOCUMENT_SETS = ("PurchaseInvoices", "PurchaseCreditNotes", "PurchaseOrders")


def delete_record(store: StateStore, entity: EntitySet, key: Any) -> None:
    """DELETE: only where the set allows it; a partner with documents is refused."""
    if not entity.deletable:
        raise B1Error(405, -1000, f"Method DELETE is not allowed on '{entity.name}'")  # [I]
    if get_record(store, entity.name, key) is None:
        raise B1Error(404, -2028, "No matching records found (ODBC -2028)")
    if entity.name == "BusinessPartners":
        where = "json_extract(body, '$.CardCode') = ?"
        if any(count_records(store, name, where, [key]) for name in _BP_DOCUMENT_SETS):
            raise B1Error(  # [I] text
                400, -10, f"Business partner '{key}' has transactions and cannot be removed"
            )
    with store.transaction() as conn:
        conn.execute(
            "DELETE FROM records WHERE entity_set = ? AND key = ?", (entity.name, str(key))
        )


def run_action(store: StateStore, entity: EntitySet, key: Any, action: str, today: str) -> None:
    """`Cancel` / `Close` bound to a document: 204 when done, B1's refusal otherwise.

    [I] Cancel marks the document `Cancelled` tYES and closes it (B1 also books a
    cancellation document, which the sandbox does not model); Close closes an open document.
    Either on a document already closed or cancelled is refused.
    """
    if action not in entity.actions:
        raise B1Error(404, -1000, f"Resource not found for the segment '{action}'")  # [I]
    current = get_record(store, entity.name, key)
    if current is None:
        raise B1Error(404, -2028, "No matching records found (ODBC -2028)")
    if current.get("Cancelled") == "tYES":
        raise B1Error(400, -5006, "Document is already cancelled")  # [I]
    if current.get("DocumentStatus") == "bost_Close":
        raise B1Error(400, -5006, "Document is already closed")  # [I]
    changed = {**current, "DocumentStatus": "bost_Close"}
    if action == "Cancel":
        changed |= {"Cancelled": "tYES", "CancelDate": today}
    changed[entity.lines] = [
        {**line, "LineStatus": "bost_Close"} for line in current.get(entity.lines) or []
    ]
    with store.transaction() as conn:
        replace_record(conn, entity.name, key, changed)


def with_balances(store: StateStore, partner: dict[str, Any]) -> dict[str, Any]:
    """[I] A partner as read: its balance is what its open A/P documents leave owing."""
    code = partner.get("CardCode")
    rows = store.rows(
        "SELECT entity_set, COALESCE(SUM(json_extract(body, '$.DocTotal')), 0) AS t "
        "FROM records WHERE entity_set IN ('PurchaseInvoices', 'PurchaseCreditNotes') "
        "AND json_extract(body, '$.CardCode') = ? AND json_extract(body, '$.Cancelled') = 'tNO' "
        "GROUP BY entity_set",
        (code,),
    )
    totals = {row["entity_set"]: Decimal(str(row["t"])) for row in rows}
    balance = totals.get("PurchaseInvoices", Decimal(0)) - totals.get(
        "PurchaseCreditNotes", Decimal(0)
    )
    return {
        **partner,
        "CurrentAccountBalance": balance.quantize(Decimal("0.01")),
        "OpenDeliveryNotesBalance": Decimal("0.00"),
        "OpenOrdersBalance": Decimal("0.00"),
    }
