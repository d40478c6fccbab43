"""Reading the values ERPs answer with: blanks, days and amounts, the same way for every ERP.

ERP rows arrive as JSON or XML text with blanks for "none", timestamps where a day is meant and
amounts as text or numbers; connectors read them through these so that a blank never becomes
`""` in a code, a float never touches money, and an unreadable value is None, not a crash.
"""

import json
import unicodedata
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from urllib.parse import quote

from bridge_pipelines.errors import BadInputError
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


# --- codes going into a URL -------------------------------------------------------------------
#
# A supplier code, an invoice number or a reference comes from Stampli, where a user controls
# it (`ErpVendorCode`). Put into a URL as it is, `/../Orders(1)#` names another entity. Every
# connector puts a code into a path through `odata_key` (or `path_segment`) and into a filter
# through `odata_literal`; both refuse control characters first (`checked_code`).

_CONTROL = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def checked_code(value: str, what: str) -> str:
    """`value` unchanged when it may travel to an ERP as a code.

    Raises:
        BadInputError: it is empty or holds a control, format, unassigned or line/paragraph
            separator character (no ERP code holds one; in a URL or XML it would split or
            break the request).
    """
    if not value:
        raise BadInputError(f"{what} is empty")
    bad = next((c for c in value if unicodedata.category(c) in _CONTROL), None)
    if bad is not None:
        raise BadInputError(f"{what} {value!r} holds the control character U+{ord(bad):04X}")
    return value


def path_segment(value: str, what: str) -> str:
    """`value` as one URL path segment: checked, then every reserved character escaped.

    `/`, `?`, `#`, `%`, `.` sequences and the like cannot leave the segment: `/../Orders(1)#`
    becomes `%2F..%2FOrders%281%29%23`.
    """
    return quote(checked_code(value, what), safe="")


def odata_literal(value: str, what: str) -> str:
    """`value` as an OData string literal for a `$filter`: checked, quoted, `'` doubled.

    The `$filter` travels as a query parameter, which the HTTP client percent-encodes.
    """
    return "'" + checked_code(value, what).replace("'", "''") + "'"


def odata_key(entity_set: str, value: str, what: str) -> str:
    """The path of one entity by its string key, `EntitySet('value')`, safe in a URL path.

    The literal's quotes stay readable; everything inside is escaped as in `path_segment`.
    """
    return f"{entity_set}({quote(odata_literal(value, what), safe=chr(39))})"


CENT = Decimal("0.01")


def exact_json(value: object, erp: str) -> str:
    """JSON text with every `Decimal` as an exact number literal and dates as ISO strings.

    The JSON APIs (SAP B1, Acumatica) read numbers as decimals: a float would round money on
    its way, so one is refused (naming `erp`), never sent.

    Raises:
        BadInputError: a non-finite Decimal.
        TypeError: a float.
    """
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise BadInputError(f"amount {value} is not a finite number")
        return format(value, "f")
    if isinstance(value, Mapping):
        items = (f"{json.dumps(str(k))}:{exact_json(v, erp)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(exact_json(v, erp) for v in value) + "]"
    if isinstance(value, date):
        return json.dumps(value.isoformat())
    if isinstance(value, float):
        raise TypeError(f"floats never go to {erp}: use Decimal")
    return json.dumps(value, ensure_ascii=False)


def cents(amount: Decimal, what: str) -> Decimal:
    """`amount` with two decimals; more precision than cents is refused, never rounded.

    Raises:
        BadInputError: the amount has more than two decimals.
    """
    quantized = amount.quantize(CENT)
    if quantized != amount:
        raise BadInputError(f"{what} {amount} has more than two decimals")
    return quantized
