"""GENTJL, `PostGlJournal`: general ledger journals, posted with SYSPRO's GL journal number.

[C] (erp-facts, SYSPRO section) the object is GENTJL through `/Transaction/Post`;
XmlParameters `<PostGlJournal><Parameters>` take `IgnoreWarnings`, `ApplyIfEntireDocumentValid`,
`ValidateOnly` and `ActionType` (A add, M maintain); XmlIn `<PostGlJournal><Item>` holds the
journal (`JournalDate`, `JournalReference`, `Notation`, `PostingPeriod`, `PostingYear`, ...)
and repeated `<JournalDetails>` lines (`LedgerCode`, `EntryAmount`, `Reference`, `Comment`);
a positive `EntryAmount` is a debit, a negative one a credit. The answer is
`<postgljournal><Item><Transaction><Key><GlYear/><GlPeriod/><GlJournal/></Key>...</Transaction>
</Item><StatusOfItems><JournalsProcessed/><JournalsInvalid/>`.

[I] Rules: at least two lines, every ledger code known and not on hold, the lines sum to zero,
the period open on the shared calendar (the journal's `PostingYear`/`PostingPeriod`, else its
`JournalDate`'s month, else the current month). Only `ActionType` A is modelled. The journal
takes the next number of the same GL journal sequence APSTIN uses for that period. Texts are
ours; only their place (`ErrorDescription` in the Item, HTTP 200) is SYSPRO's. Journals are
kept in the sandbox's own tables (`gl_journals`, `gl_journal_lines`), not a SYSPRO table.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from lxml import etree

from bridge_pipelines.sandbox.syspro.apstin import (
    CENT,
    PostContext,
    _date,
    _flag,
    _money,
    _period_refusal,
)
from bridge_pipelines.sandbox.syspro.store import next_number
from bridge_pipelines.sandbox.syspro.xml_codec import (
    XmlInError,
    count_text,
    element,
    parse,
    render,
    sub,
    text,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS gl_journals (GlYear INTEGER NOT NULL, GlPeriod INTEGER NOT NULL,
    GlJournal INTEGER NOT NULL, JournalType TEXT NOT NULL, JournalDate TEXT NOT NULL,
    Reference TEXT NOT NULL, Notation TEXT NOT NULL, Posted TEXT NOT NULL,
    Operator TEXT NOT NULL, PostedAt TEXT NOT NULL, PRIMARY KEY (GlYear, GlPeriod, GlJournal));
CREATE TABLE IF NOT EXISTS gl_journal_lines (GlYear INTEGER NOT NULL, GlPeriod INTEGER NOT NULL,
    GlJournal INTEGER NOT NULL, EntryNumber INTEGER NOT NULL, GlCode TEXT NOT NULL,
    EntryAmount TEXT NOT NULL, Reference TEXT NOT NULL, Comment TEXT NOT NULL,
    PRIMARY KEY (GlYear, GlPeriod, GlJournal, EntryNumber));
"""
JOURNAL_TYPES = ("N", "P", "U", "S", "L")


@dataclass
class _Detail:
    ledger_code: str
    amount: Decimal
    reference: str
    comment: str


@dataclass
class _Journal:
    journal_type: str
    journal_date: date | None
    reference: str
    notation: str
    period_text: str
    year_text: str
    post: bool
    details: list[_Detail] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    key: tuple[int, int, int] | None = None


def _read(node: etree._Element) -> _Journal:
    errors: list[str] = []
    journal = _Journal(
        journal_type=(text(node, "JournalType") or "N").upper(),
        journal_date=_date(text(node, "JournalDate"), "Journal date", errors),
        reference=text(node, "JournalReference"),
        notation=text(node, "Notation"),
        period_text=text(node, "PostingPeriod"),
        year_text=text(node, "PostingYear"),
        post=(text(node, "PostJournal") or "Y").upper() == "Y",
        errors=errors,
    )
    for detail in node.findall("JournalDetails"):
        journal.details.append(
            _Detail(
                ledger_code=text(detail, "LedgerCode"),
                amount=_money(text(detail, "EntryAmount"), "Entry amount", errors),
                reference=text(detail, "Reference"),
                comment=text(detail, "Comment"),
            )
        )
    return journal


def _period(ctx: PostContext, journal: _Journal) -> tuple[int, int] | None:
    if journal.period_text or journal.year_text:
        if not (journal.period_text.isdigit() and 1 <= int(journal.period_text) <= 12):
            journal.errors.append(f"Posting period '{journal.period_text}' is invalid")
            return None
        if not (journal.year_text.isdigit() and len(journal.year_text) == 4):
            journal.errors.append(f"Posting year '{journal.year_text}' is invalid")
            return None
        return int(journal.year_text), int(journal.period_text)
    day = journal.journal_date or ctx.now.date()
    return day.year, day.month


def _validate(ctx: PostContext, journal: _Journal) -> tuple[int, int] | None:
    errors = journal.errors
    if journal.journal_type not in JOURNAL_TYPES:
        errors.append(f"Journal type '{journal.journal_type}' is invalid")
    if len(journal.details) < 2:
        errors.append("A journal needs at least two journal lines")
    for n, detail in enumerate(journal.details, start=1):
        rows = ctx.store.rows(
            "SELECT AccountOnHold FROM GenMaster WHERE GlCode = ?", (detail.ledger_code,)
        )
        if not rows:
            errors.append(f"Ledger code '{detail.ledger_code}' not found (line {n})")
        elif rows[0]["AccountOnHold"] == "Y":
            errors.append(f"Ledger code '{detail.ledger_code}' is on hold (line {n})")
    total = sum((d.amount for d in journal.details), Decimal(0)).quantize(CENT)
    if total != 0:
        errors.append(f"Journal does not balance: the entries total {total}")
    period = _period(ctx, journal)
    if period is not None:
        refusal = _period_refusal(ctx, period)
        if refusal:
            errors.append(refusal)
    return period


def _post(ctx: PostContext, journal: _Journal, period: tuple[int, int]) -> None:
    year, month = period
    journal_date = (journal.journal_date or ctx.now.date()).isoformat()
    with ctx.store.transaction() as conn:
        number = next_number(conn, f"GlJournal:{year:04d}-{month:02d}")
        conn.execute(
            "INSERT INTO gl_journals VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (year, month, number, journal.journal_type, journal_date, journal.reference,
             journal.notation, "Y" if journal.post else "N", ctx.operator,
             ctx.now.isoformat()),
        )  # fmt: skip
        conn.executemany(
            "INSERT INTO gl_journal_lines VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (year, month, number, n, d.ledger_code, str(d.amount), d.reference, d.comment)
                for n, d in enumerate(journal.details, start=1)
            ],
        )
    journal.key = (year, month, number)


def post_gl_journal(ctx: PostContext, xml_parameters: str, xml_in: str) -> bytes:
    """Run GENTJL; the answer is SYSPRO's output XML (errors inside it), Windows-1252."""
    parameters = (
        parse(xml_parameters, "XmlParameters").find("Parameters") if xml_parameters else None
    )
    root = parse(xml_in)
    if root.tag != "PostGlJournal":
        raise XmlInError(f"XmlIn root must be PostGlJournal, not {root.tag}")
    whole_document = _flag(parameters, "ApplyIfEntireDocumentValid", "Y") == "Y"
    validate_only = _flag(parameters, "ValidateOnly", "N") == "Y"
    action = _flag(parameters, "ActionType", "A")
    journals = [_read(node) for node in root.findall("Item")]
    periods = []
    for journal in journals:
        if action != "A":
            journal.errors.append(f"Action type '{action}' is not supported; use A (add)")
        periods.append(_validate(ctx, journal))
    invalid = sum(1 for j in journals if j.errors)
    if not validate_only and not (whole_document and invalid):
        for journal, period in zip(journals, periods, strict=True):
            if not journal.errors and period is not None:
                _post(ctx, journal, period)
    out = element("postgljournal")
    for journal in journals:
        node = sub(out, "Item")
        transaction = sub(node, "Transaction")
        key = sub(transaction, "Key")
        for tag, value in zip(("GlYear", "GlPeriod", "GlJournal"), journal.key or ("",) * 3,
                              strict=True):  # fmt: skip
            sub(key, tag, value)
        sub(transaction, "JournalReference", journal.reference)
        for message in journal.errors:
            sub(node, "ErrorDescription", message)
    status = sub(out, "StatusOfItems")
    sub(status, "JournalsProcessed", count_text(sum(1 for j in journals if j.key)))
    sub(status, "JournalsInvalid", count_text(invalid))
    return render(out)
