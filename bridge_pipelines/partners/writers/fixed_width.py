"""Fixed-width files in the layout the partners file declares.

Amounts with `decimals` are written with implied decimals (12.50 with 2 -> `1250`), a minus
sign first for a credit. A value wider than its field is an error naming the row and field,
never cut, except free text (descriptions, comments, names), which is cut to the width.
"""

import io
from collections.abc import Callable, Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from bridge_pipelines.errors import BadInputError
from bridge_pipelines.masterdata.inbound import plain_decimal
from bridge_pipelines.partners.models import FixedField, PartnerFile
from bridge_pipelines.partners.records import Row, row_label
from bridge_pipelines.partners.translate import Translator
from bridge_pipelines.partners.writers.base import (
    LINE_ENDINGS,
    BuiltFile,
    Cell,
    encode_line,
    field_values,
)
from bridge_pipelines.partners.writers.totals import Totals

FREE_TEXT = frozenset({"description", "comment", "supplier_name", "reference"})


_ONE = Decimal(1)


def fixed_cell(value: Cell, spec: FixedField, file: str, row: Row) -> str:
    """`value` padded to the field's width (one cell; files use `compile_field`).

    Raises:
        BadInputError: the value does not fit and is not free text.
    """
    return compile_field(spec, file)(value, row)


DATE_FIELDS = frozenset({"date", "invoice_date", "due_date", "order_date"})
NUMBER_FIELDS = frozenset(
    {"year", "period", "journal", "entry", "line", "amount", "debit", "credit", "quantity",
     "unit_price", "price"}
)  # fmt: skip
Formatter = Callable[[Any, Row], str]


def compile_field(spec: FixedField, file: str) -> Formatter:
    """A formatter for one field, specialised once for its type, width and padding.

    The general `fixed_cell` costs a type test per cell; a month of GL lines has millions.
    """
    width, pad, left = spec.width, spec.pad, spec.align == "left"
    signed = spec.pad == "0" and not left

    def fit(text: str, row: Row) -> str:
        if len(text) > width:
            if spec.field not in FREE_TEXT:
                raise BadInputError(
                    f"{file}: {row_label(row)}: field {spec.field} {text!r} is {len(text)} "
                    f"characters; the layout gives it {width}"
                )
            text = text[:width]
        if left:
            return text.ljust(width, pad)
        if signed and text.startswith("-"):
            return "-" + text[1:].rjust(width - 1, "0")
        return text.rjust(width, pad)

    if spec.field in DATE_FIELDS:
        return lambda value, row: fit(f"{value.year:04d}{value.month:02d}{value.day:02d}", row)
    if spec.field in NUMBER_FIELDS:
        if spec.decimals is None:
            return lambda value, row: fit(plain_decimal(value), row)
        places = spec.decimals
        return lambda value, row: fit(
            str(int(Decimal(value).scaleb(places).quantize(_ONE, rounding=ROUND_HALF_UP))), row
        )

    def text_field(value: Any, row: Row) -> str:
        text = str(value)
        if "\r" in text or "\n" in text:
            text = text.replace("\r", " ").replace("\n", " ")
        return fit(text, row)

    return text_field


def write_fixed_width(
    spec: PartnerFile,
    rows: Iterable[Row],
    translator: Translator,
    suppliers: Mapping[str, str],
    file: str,
) -> BuiltFile:
    """The fixed-width file of `rows`; with `group_by_cost_centre`, lines by partner centre."""
    needed = frozenset(f.field for f in spec.fields)
    if spec.group_by_cost_centre:
        needed |= {"cost_centre"}
    ending = LINE_ENDINGS[spec.line_ending]
    totals = Totals(spec.dataset)
    out = io.BytesIO()
    groups: dict[str, io.BytesIO] = {}  # lines of each cost centre, without an object per line
    compiled = [(f.field, compile_field(f, file)) for f in spec.fields]
    encoding = spec.encoding
    for row in rows:
        values = field_values(row, needed, translator, suppliers)
        totals.add(row, values)
        text = "".join([fmt(values[name], row) for name, fmt in compiled]) + ending
        try:
            line = text.encode(encoding)
        except UnicodeEncodeError:
            line = encode_line(text, encoding, file, row)  # raises, naming the row
        if spec.group_by_cost_centre:
            centre = str(values["cost_centre"])
            group = groups.get(centre)
            if group is None:
                group = groups[centre] = io.BytesIO()
            group.write(line)
        else:
            out.write(line)
    for centre in sorted(groups):
        out.write(groups.pop(centre).getbuffer())
    return BuiltFile(out.getvalue(), totals.rows, totals.as_dict())
