"""Periods (`YYYY-MM`) and the close calendar: when a partner's month or week is due."""

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bridge_pipelines.errors import BadInputError
from bridge_pipelines.partners.models import CloseCalendar

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, order=True)
class Period:
    """A calendar month, the unit a close exports."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> "Period":
        """`2026-11` -> Period(2026, 11).

        Raises:
            BadInputError: not a `YYYY-MM` month.
        """
        match = _PERIOD.match(text.strip())
        if not match:
            raise BadInputError(f"period {text!r} is not a month written YYYY-MM (e.g. 2026-11)")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, day: date) -> "Period":
        return cls(day.year, day.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def compact(self) -> str:
        """`YYYYMM`, the form file names use."""
        return f"{self.year:04d}{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return self.next().first_day - timedelta(days=1)

    def next(self) -> "Period":
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> "Period":
        return Period(self.year - (self.month == 1), (self.month - 2) % 12 + 1)


def business_day_after(period: Period, n: int) -> date:
    """The `n`th business day (Monday to Friday) after `period`'s last day."""
    day, counted = period.last_day, 0
    while counted < n:
        day += timedelta(days=1)
        if day.weekday() < 5:
            counted += 1
    return day


def due_periods(calendar: CloseCalendar, now: datetime, zone: ZoneInfo) -> list[Period]:
    """The periods a partner's schedule sends at `now` (tenant's zone); empty if not due today.

    Monthly: on business day N after a month's end, that month. Weekly: on the weekday, the
    month to date and the month before (its last days came after the previous weekly run; a
    month with nothing new since its last file sends nothing).
    """
    local = now.astimezone(zone)
    today = local.date()
    if local.time() < calendar.at:
        return []
    if calendar.cadence == "weekly":
        if WEEKDAYS[today.weekday()] != calendar.weekday:
            return []
        return [Period.of(today).previous(), Period.of(today)]
    closed = Period.of(today).previous()
    return [closed] if business_day_after(closed, calendar.business_day) == today else []
