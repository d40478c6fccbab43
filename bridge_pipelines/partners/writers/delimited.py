"""CSV files, formula-safe as the inbound writers are (`masterdata.inbound.neutralise`)."""

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal

from bridge_pipelines.masterdata.inbound import neutralise, plain_decimal
from bridge_pipelines.partners.models import PartnerFile
from bridge_pipelines.partners.records import Row
from bridge_pipelines.partners.translate import Translator
from bridge_pipelines.partners.writers.base import (
    LINE_ENDINGS,
    BuiltFile,
    Cell,
    encode_line,
    field_values,
)
from bridge_pipelines.partners.writers.totals import Totals


def cell_text(value: Cell) -> str:
    """A cell as text: numbers plain decimal, dates ISO, text neutralised against formulas."""
    if isinstance(value, Decimal | int):
        return plain_decimal(value)
    if isinstance(value, date):
        return value.isoformat()
    return neutralise(value)


def write_csv(
    spec: PartnerFile,
    rows: Iterable[Row],
    translator: Translator,
    suppliers: Mapping[str, str],
    file: str,
) -> BuiltFile:
    """The CSV file of `rows` in the partner's column layout."""
    needed = frozenset(c.field for c in spec.columns)
    ending = LINE_ENDINGS[spec.line_ending]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=spec.delimiter, lineterminator=ending)
    out = io.BytesIO()
    writer.writerow([neutralise(c.header) for c in spec.columns])
    out.write(encode_line(buffer.getvalue(), spec.encoding, file, None))
    totals = Totals(spec.dataset)
    groups: dict[str, io.BytesIO] | None = {} if spec.group_by_cost_centre else None
    for row in rows:
        values = field_values(
            row, needed | {"cost_centre"} if groups is not None else needed, translator, suppliers
        )
        totals.add(row, values)
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([cell_text(values[c.field]) for c in spec.columns])
        line = encode_line(buffer.getvalue(), spec.encoding, file, row)
        if groups is None:
            out.write(line)
        else:
            centre = str(values["cost_centre"])
            if centre not in groups:
                groups[centre] = io.BytesIO()
            groups[centre].write(line)
    for centre in sorted(groups or {}):
        out.write((groups or {})[centre].getbuffer())
    return BuiltFile(out.getvalue(), totals.rows, totals.as_dict())
