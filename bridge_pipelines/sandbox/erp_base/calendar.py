"""The posting-period calendar every ERP sandbox keeps: which months take postings.

A real ERP posts a document into the period of its posting date only while that period is
open; a closed (locked) period, or one not opened yet, refuses it in the ERP's own words. Each
sandbox states its rule for the months nobody set, relative to the sandbox clock's month
(`CalendarRule`: months back still open, months ahead already open, and what a month beyond
those is), and single months are set `open` or `closed` through `POST /_sandbox/periods`
(kept in the state file, under the `periods` setting, so they survive a restart; a reset
forgets them). The seeded calendar: the current and the previous month open, older ones
closed, later ones as the ERP does (SYSPRO: not opened yet; SAP B1: next month open, later
ones locked).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

OPEN = "open"
CLOSED = "closed"
NOT_OPEN = "not_open"
SETTABLE = (OPEN, CLOSED)


@dataclass(frozen=True)
class CalendarRule:
    """The status of a month nobody set, by its distance from the current month.

    Attributes:
        open_back: months before the current one that are still open (older ones are closed).
        open_ahead: months after the current one that are already open.
        later: what a month further ahead is: `NOT_OPEN` (not opened yet) or `CLOSED`.
    """

    open_back: int = 1
    open_ahead: int = 0
    later: str = NOT_OPEN

    def status(self, offset: int) -> str:
        """The status of the month `offset` months from the current one (negative: past)."""
        if offset < -self.open_back:
            return CLOSED
        if offset > self.open_ahead:
            return self.later
        return OPEN


def parse_period(text: object) -> tuple[int, int]:
    """`"YYYY-MM"` as (year, month).

    Raises:
        ValueError: not a `YYYY-MM` month.
    """
    value = str(text)
    try:
        year, month = (int(part) for part in value.split("-"))
    except ValueError:
        raise ValueError(f"period {value!r} is not YYYY-MM") from None
    if len(value) != 7 or not 1 <= month <= 12:
        raise ValueError(f"period {value!r} is not YYYY-MM")
    return year, month


def period_key(year: int, month: int) -> str:
    """`YYYY-MM`."""
    return f"{year:04d}-{month:02d}"


def offset_of(today: date, year: int, month: int) -> int:
    """How many months `year`-`month` lies after `today`'s month (negative: before)."""
    return (year - today.year) * 12 + (month - today.month)


def status_of(
    config: Mapping[str, Any], today: date, year: int, month: int, rule: CalendarRule
) -> str:
    """`open`, `closed` or `not_open`: a month set through the admin API, else the rule."""
    chosen = dict(config.get("periods") or {}).get(period_key(year, month))
    if chosen in SETTABLE:
        return str(chosen)
    return rule.status(offset_of(today, year, month))


def shifted(today: date, months: int) -> tuple[int, int]:
    """The (year, month) `months` away from `today`'s month."""
    index = today.year * 12 + today.month - 1 + months
    return index // 12, index % 12 + 1


def listing(
    config: Mapping[str, Any], today: date, rule: CalendarRule, back: int = 12, ahead: int = 3
) -> list[dict[str, str]]:
    """The calendar around `today`, oldest first, for `GET /_sandbox/periods`."""
    months = (shifted(today, n) for n in range(-back, ahead + 1))
    return [
        {"period": period_key(y, m), "status": status_of(config, today, y, m, rule)}
        for y, m in months
    ]


def with_period(config: Mapping[str, Any], period: str, status: str) -> dict[str, str]:
    """The `periods` setting with one month set `open` or `closed`.

    Raises:
        ValueError: not a `YYYY-MM` month, or a status other than `open` / `closed`.
    """
    year, month = parse_period(period)
    if status not in SETTABLE:
        raise ValueError(f"status must be one of {list(SETTABLE)}, not {status!r}")
    return {**dict(config.get("periods") or {}), period_key(year, month): status}
