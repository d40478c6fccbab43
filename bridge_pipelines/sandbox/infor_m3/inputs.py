"""What every M3 transaction starts with: its record checked against the field table.

`Nok` is a refused transaction as M3 answers it (HTTP 200, `errorMessage`, `errorType`,
`errorCode`, `errorField`); `Context` is what a handler runs with. Messages and error codes
are [I] unless noted in the README.
"""

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from bridge_pipelines.sandbox.infor_m3.programs import PROGRAMS, Field

Row = dict[str, str]


class Nok(Exception):
    """A refused transaction, answered as M3 does: HTTP 200 with the error fields."""

    def __init__(
        self, message: str, field: str = "", code: str = "WNOK001", kind: str = "ServerReturnedNOK"
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code
        self.kind = kind


@dataclass
class Context:
    """What one transaction runs with: its company, division, the write connection, the day."""

    conn: sqlite3.Connection
    cono: str
    divi: str
    today: date
    period_status: Callable[[int, int], str]
    lifetime_hint: int = 0


# --- reading inputs ---------------------------------------------------------------------------


def check_fields(program: str, transaction: str, record: dict[str, Any]) -> Row:
    """The record's fields as text, each checked for its M3 type, length and required flag.

    Raises:
        Nok: `TransactionNotFound`, `MandatoryInputFieldNotFound`, `InputFieldTooLong`, or
            `ServerReturnedNOK` for a field that is not the transaction's or has a bad value.
    """
    table = PROGRAMS.get(program, {}).get(transaction)
    if table is None:
        raise Nok(
            f"Transaction {transaction} does not exist in program {program}",
            code="XTN0001",
            kind="TransactionNotFound",
        )
    values = {str(k).upper(): "" if v is None else str(v) for k, v in record.items()}
    for name, value in values.items():
        spec = table.get(name)
        if spec is None:
            raise Nok(f"Input field {name} is not defined for {program}/{transaction}", name)
        _check_value(name, value, spec)
    for name, spec in table.items():
        if spec.required and not values.get(name, "").strip():
            raise Nok(
                f"Mandatory input field {name} not found",
                name,
                code="XMI0001",
                kind="MandatoryInputFieldNotFound",
            )
    return {k: v.strip() for k, v in values.items()}


def _check_value(name: str, value: str, spec: Field) -> None:
    if not value:
        return
    if spec.type == "A":
        if len(value) > spec.length:
            raise Nok(
                f"Input field {name} is too long: {len(value)} characters, at most {spec.length}",
                name,
                code="XIL0001",
                kind="InputFieldTooLong",
            )
        return
    if spec.type == "D":
        if len(value) != 8 or not value.isdigit():
            raise Nok(f"Date {value} in {name} is not YYYYMMDD", name, code="WDT0101")
        try:
            datetime.strptime(value, "%Y%m%d")
        except ValueError:
            raise Nok(f"Date {value} in {name} is invalid", name, code="WDT0101") from None
        return
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise Nok(f"Value {value} in {name} is not numeric", name, code="WNU0101") from None
    digits = len(number.as_tuple().digits)
    if not number.is_finite() or digits > spec.length:
        raise Nok(
            f"Input field {name} is too long: {digits} digits, at most {spec.length}",
            name,
            code="XIL0001",
            kind="InputFieldTooLong",
        )


def m3_day(text: str) -> date:
    """An M3 date (`YYYYMMDD`) as a day."""
    return datetime.strptime(text, "%Y%m%d").date()


def m3_amount(text: str | None) -> Decimal:
    """An M3 number as a `Decimal`, zero when blank."""
    return Decimal(text) if text else Decimal(0)


def m3_text(value: object) -> str:
    """A column as text, blank for NULL."""
    return "" if value is None else str(value)


def period_open(ctx: Context, day: str, field: str) -> None:
    """Refuse (`Nok` on `field`) an accounting date whose period is closed or not open."""
    when = m3_day(day)
    status = ctx.period_status(when.year, when.month)
    if status != "open":
        state = "closed" if status == "closed" else "not open yet"
        raise Nok(
            f"Accounting period {when:%Y-%m} is {state} for division {ctx.divi}",
            field,
            code="WPE0101",
        )
