"""Tables that fit the terminal (80 columns when it is not one): long reasons wrap, never cut.

`rich` lays them out; plain ASCII borders, no colour unless stdout is a terminal.
"""

import os
import shutil
import sys
import textwrap
from collections.abc import Sequence

DEFAULT_WIDTH = 80


def width() -> int:
    """The terminal's width, `COLUMNS`, or 80 for a pipe or a file."""
    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    if sys.stdout.isatty():
        return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    return DEFAULT_WIDTH


def print_table(
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    details: Sequence[tuple[str, str]] = (),
) -> None:
    """One table; then each (label, text) of `details` wrapped under it, in full, never cut."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console(width=width(), highlight=False, soft_wrap=False, file=sys.stdout)
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for header in headers:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    for label, text in details:
        lines = textwrap.wrap(
            text,
            width=console.width,
            initial_indent=f"{label} ",
            subsequent_indent=" " * (len(label) + 1),
            break_on_hyphens=False,
        )
        console.print("\n".join(lines), markup=False)


def wrapped(line: str, indent: int) -> str:
    """`line` wrapped at the terminal's width, continuation lines indented; nothing cut."""
    return "\n".join(
        textwrap.wrap(
            line,
            width=width(),
            subsequent_indent=" " * indent,
            break_on_hyphens=False,
            drop_whitespace=True,
        )
        or [line]
    )
