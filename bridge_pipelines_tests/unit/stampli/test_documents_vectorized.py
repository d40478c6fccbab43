"""Invoice documents written in polars are the documents the per-row Python builder made.

The reference below is the builder as it was before documents were serialized in polars (a
dict per line, `json.dumps` and sha256 per invoice): on a generated file with messy text, bad
rows, interleaved invoices and lines out of order, both must give the same documents, hash
for hash, so no re-exported invoice looks changed after the upgrade.
"""

import csv
import io
import json
import random
from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl
import pytest

from bridge_pipelines.stampli import invoices
from bridge_pipelines.stampli.content import as_text, content_hash, json_object
from bridge_pipelines.stampli.grouping import RUN, with_runs
from bridge_pipelines.stampli.models import ParsedDocument
from bridge_pipelines.stampli.parse import parse_export

COLUMNS = [f.column for f in invoices.FIELDS]
TEXTS = [
    "Capacitors, 10uF",
    'Cable "Cat6", 2m',
    "Service fee\nNovember\r\nsecond line",
    "tab\there, back\\slash, bell\x07, unit sep\x1f",
    "Café crème – réunion \u2028 東京 🚚",
    "",
]


def _old_build_documents(frame: pl.DataFrame) -> list[ParsedDocument]:
    """The builder before this change, kept verbatim as the reference."""
    if frame.height == 0:
        return []
    ordered = with_runs(frame, "invoice_id").sort(RUN, "line_number", maintain_order=True)
    starts = ordered.select(
        (pl.col(RUN) != pl.col(RUN).shift(1)).fill_null(True).arg_true()
    ).to_series()
    heads = ordered[starts]
    header = heads.select(
        pl.col("invoice_id"), *(as_text(heads.schema, c) for c in invoices.HEADER)
    )
    line_text = ordered.select(
        *(as_text(ordered.schema, c) for c in invoices.LINE), pl.col("source_row")
    )
    line_values = [line_text.get_column(c).to_list() for c in invoices.LINE]
    source_rows = line_text.get_column("source_row").to_list()
    bounds = [*starts.to_list(), ordered.height]
    documents: list[ParsedDocument] = []
    for index, head in enumerate(header.iter_rows(named=True)):
        begin, end = bounds[index], bounds[index + 1]
        payload: dict[str, Any] = dict(head)
        payload["lines"] = [
            dict(zip(invoices.LINE, values, strict=True))
            for values in zip(*(column[begin:end] for column in line_values), strict=True)
        ]
        documents.append(
            ParsedDocument(
                kind=invoices.KIND,
                identity=f"{head['vendor_id']}|{head['invoice_number']}|{head['document_type']}",
                content_hash=content_hash(payload),
                rows=tuple(sorted(set(source_rows[begin:end]))),
                payload_json=json.dumps(payload).encode(),
                document_day=date.fromisoformat(head["posting_date"]),
                amount=Decimal(head["invoice_total"]),
                currency=head["currency"],
            )
        )
    return documents


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _export(invoice_count: int, seed: int = 19) -> tuple[bytes, int]:
    """A messy export; returns its bytes and how many rows were spoiled on purpose."""
    rng = random.Random(seed)
    rows: list[list[str]] = []
    spoiled = 0
    for n in range(1, invoice_count + 1):
        credit = rng.random() < 0.2
        sign = -1 if credit else 1
        count = rng.randint(1, 6)
        amounts = [sign * rng.randint(1, 90_000) for _ in range(count)]
        tax = sign * rng.randint(0, 5_000)
        header = {
            "InvoiceId": f"STI-{n:05d}",
            "InvoiceNumber": f"{'CM' if credit else 'A'}-{n}",
            "VendorId": f"V-{rng.randrange(40):03d}",
            "VendorName": rng.choice(['Müller & Söhne, "GmbH"', "", "O'Brien\tCo"]),
            "InvoiceDate": "2026-03-0" + str(rng.randint(1, 9)),
            "DueDate": "2026-04-15",
            "PostingDate": rng.choice(["", "2026-03-10"]),
            "Currency": rng.choice(["USD", "EUR", "JPY"]),
            "InvoiceTotal": _money(sum(amounts) + tax),
            "TaxAmount": _money(tax),
            "PONumber": rng.choice(["", "PO-1", 'PO "2"']),
            "ApprovedBy": "m.müller",
            "ApprovedAt": rng.choice(["2026-03-10T09:02:11-05:00", "2026-03-10T23:59:59.5Z"]),
            "DocumentType": "CreditMemo" if credit else "Invoice",
        }
        numbers = list(range(1, count + 1))
        if rng.random() < 0.3:
            rng.shuffle(numbers)  # lines out of order: documents list them by number
        for number, amount in zip(numbers, amounts, strict=True):
            line = {
                **header,
                "LineNumber": str(number),
                "LineDescription": rng.choice(TEXTS),
                "GLAccount": str(6000 + rng.randrange(50)),
                "CostCenter": rng.choice(["CC-EAST", ""]),
                "LineAmount": _money(amount),
            }
            if rng.random() < 0.03:
                line["LineAmount"] = rng.choice(["12,50", "1e3", "abc"])
                spoiled += 1
            rows.append([line[c] for c in COLUMNS])
    # Two invoices interleaved: grouping must still keep each one's lines together.
    if len(rows) > 8:
        rows[2], rows[-3] = rows[-3], rows[2]
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig"), spoiled


def test_documents_match_the_per_row_builder_hash_for_hash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data, spoiled = _export(1200)
    monkeypatch.setattr(invoices, "DOCUMENT_BATCH", 97)  # many batches, one cut mid-file
    result = parse_export("invoices", data, source="approved_invoices.csv")
    assert spoiled > 0 and result.errors, "the file must hold bad rows"
    assert result.rows_total == result.rows_accepted + result.rows_rejected

    new = result.documents
    old = _old_build_documents(result.frame)
    assert len(new) == len(old) > 1000
    for fresh, before in zip(new, old, strict=True):
        assert fresh.identity == before.identity
        assert fresh.content_hash == before.content_hash
        assert fresh.payload == json.loads(before.payload_json)
        assert fresh.rows == before.rows
        assert (fresh.document_day, fresh.currency) == (before.document_day, before.currency)
        assert fresh.amount == before.amount and isinstance(fresh.amount, Decimal)
        assert str(fresh.amount) == str(before.amount)


def test_json_text_written_in_polars_is_pythons_canonical_json() -> None:
    texts = [chr(c) for c in range(0x20)] + ['"', "\\", "/", "\x7f", "é東🚚\u2028", "", None]
    frame = pl.DataFrame(
        {
            "text": texts,
            "number": [None if i % 5 == 0 else i - 3 for i in range(len(texts))],
            "amount": pl.Series([Decimal("-1.05")] * len(texts), dtype=pl.Decimal(18, 2)),
        }
    )
    written = frame.select(json_object(frame.schema, dict.fromkeys(frame.columns))).to_series()
    expected = [
        json.dumps(
            {"text": t, "number": n, "amount": "-1.05"},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        for t, n in zip(texts, frame.get_column("number").to_list(), strict=True)
    ]
    assert written.to_list() == expected


def test_payload_is_a_fresh_dict_each_time() -> None:
    document = ParsedDocument.of(
        kind="vendors", identity="V-1", rows=(1,), payload={"vendor_id": "V-1", "name": "A"}
    )
    first = document.payload
    first["name"] = "changed by a caller"
    assert document.payload == {"vendor_id": "V-1", "name": "A"}
    assert document.content_hash == content_hash({"name": "A", "vendor_id": "V-1"})
