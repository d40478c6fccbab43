"""Reading the values ERPs answer with: blanks, days and amounts, the same way for every ERP.

ERP rows arrive as JSON or XML text with blanks for "none", timestamps where a day is meant and
amounts as text or numbers; connectors read them through these so that a blank never becomes
`""` in a code, a float never touches money, and an unreadable value is None, not a crash.
"""

from datetime import date
from decimal import Decimal, InvalidOperation

from bridge_pipelines.redaction import redact


def text_or_none(value: object) -> str | None:
    """The value as stripped text, or None when it is missing or blank."""
    text = "" if value is None else str(value).strip()
    return text or None


def day_or_none(value: object) -> date | None:
    """The ISO day a value starts with (`2026-03-02`, `2026-03-02T00:00:00`), or None."""
    try:
        return date.fromisoformat(str(value or "")[:10])
    except ValueError:
        return None


def decimal_or_none(value: object) -> Decimal | None:
    """A finite `Decimal` of the value (text or number), or None when it does not read."""
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


def decimal_or_zero(value: object) -> Decimal:
    """A `Decimal` of the value, zero when it is missing or blank (a line without a total)."""
    if value is None or value == "":
        return Decimal(0)
    amount = decimal_or_none(value)
    if amount is None:
        raise ValueError(f"not an amount: {value!r}")
    return amount


def fit_text(text: str | None, limit: int) -> str:
    """Free text (a description, a memo) for an ERP field that holds `limit` characters.

    The same for every connector and every limited text field: line breaks, tabs and runs of
    spaces fold to one space (ERP text fields are one line), then text longer than the limit is
    cut at the last word boundary that fits, never inside a word, unless one word alone is
    longer than the limit (then it is cut at the limit). Identifiers (invoice numbers, codes,
    references) are never cut: a connector refuses those with `BadInputError` instead.
    """
    if limit < 1:
        raise ValueError(f"limit must be positive, got {limit}")
    folded = " ".join((text or "").split())
    if len(folded) <= limit:
        return folded
    if folded[limit] == " ":
        return folded[:limit]
    head = folded[:limit]
    boundary = head.rfind(" ")
    return head[:boundary].rstrip() if boundary > 0 else head


QUOTE_LIMIT = 500


def quoted(text: str, limit: int = QUOTE_LIMIT) -> str:
    """An ERP's answer for a message: on one line, shortened, secrets masked."""
    cleaned = " ".join(text.split())
    if len(cleaned) > limit:
        cleaned = cleaned[:limit] + "..."
    return redact(cleaned)
