"""Markdown metadata shows remote names and cell text as typed: no links, images or markup."""

import pytest
from markdown_it import MarkdownIt

from bridge_pipelines.defs.metadata import escape_markdown, failures_table, markdown_table
from bridge_pipelines.stampli.models import RowError

HOSTILE = [
    "[click me](https://evil.example/phish)",
    "![pixel](https://evil.example/track.png)",
    "<img src=https://evil.example/x.png onerror=alert(1)>",
    "<https://evil.example/auto>",
    "[ref][1]\n\n[1]: https://evil.example/ref",
    "**bold** _em_ `code` ~~gone~~ # heading",
    "a | b || c \\| d",
]


def _render(markdown: str) -> str:
    return MarkdownIt("commonmark").enable("table").render(markdown)


@pytest.mark.parametrize("text", HOSTILE)
def test_remote_names_and_cell_text_render_as_plain_text(text: str) -> None:
    html = _render(markdown_table([{"file": text, "error": text}]))
    for tag in ("<a ", "<img", "<strong", "<em", "<code", "<h1", "<s>", "<del"):
        assert tag not in html, (text, html)
    assert html.count("<td>") == 2, html  # a `|` in a cell never makes a new column


def test_the_text_survives_escaping() -> None:
    name = "approved_invoices_[1](x).csv"
    html = _render(markdown_table([{"file": name}]))
    assert "approved_invoices_[1](x).csv" in html
    assert escape_markdown("two\nlines") == "two lines"


def test_row_errors_quoting_a_link_do_not_become_links() -> None:
    error = RowError(
        source="![x](https://evil.example/t.png).csv",
        row=3,
        field="LineDescription",
        message="'[pay here](https://evil.example)' is longer than 30 characters",
        document="invoice <b>STI-1</b>",
    )
    html = _render(failures_table([error]))
    assert "<a " not in html and "<img" not in html and "<b>" not in html
    assert "[pay here](https://evil.example)" in html
