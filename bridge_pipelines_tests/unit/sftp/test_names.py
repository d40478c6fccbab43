import pytest

from bridge_pipelines.errors import UnsafeNameError
from bridge_pipelines.sftp.names import check_remote_name, unsafe_reason


@pytest.mark.parametrize(
    "name",
    [
        "approved_invoices_20261121_141500.csv",
        "approved_invoices_20261121_141500_2.xml",
        "Müller Rechnung ü.csv",
        "東京精密.csv",
        "with spaces inside.csv",
        "a.b.c",
        "x" * 255,
    ],
)
def test_safe_names_pass_unchanged(name: str) -> None:
    assert check_remote_name(name) == name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty name"),
        (".", "refers to a folder"),
        ("..", "refers to a folder"),
        ("../etc/passwd", "path separator"),
        ("sub/file.csv", "path separator"),
        ("/etc/passwd", "path separator"),
        ("..\\windows.csv", "path separator"),
        ("evil..csv", "'..'"),
        ("nul\0byte.csv", "NUL"),
        ("line\nbreak.csv", "U+000A"),
        ("cr\rreturn.csv", "U+000D"),
        ("tab\tname.csv", "U+0009"),
        ("escape\x1b[31m.csv", "U+001B"),
        ("del\x7f.csv", "U+007F"),
        ("c1\x85next-line.csv", "U+0085"),
        ("c1\x9bcsi.csv", "U+009B"),
        ("para\u2029sep.csv", "U+2029"),
        ("invoice\u202egpj.csv", "bidirectional"),
        ("-rf.csv", "starts with '-'"),
        (" leading.csv", "white space"),
        ("trailing.csv ", "white space"),
        ("bad\udce9.csv", "not valid UTF-8"),
        ("x" * 256, "longer than 255 bytes"),
        ("é" * 128, "longer than 255 bytes"),
    ],
)
def test_unsafe_names_are_refused_with_a_reason(name: str, reason: str) -> None:
    with pytest.raises(UnsafeNameError) as refused:
        check_remote_name(name)
    assert reason in str(refused.value)
    assert unsafe_reason(name) is not None


def test_message_shows_the_name_escaped() -> None:
    with pytest.raises(UnsafeNameError) as refused:
        check_remote_name("a\nb\x1b.csv")
    message = str(refused.value)
    assert "'a\\nb\\x1b.csv'" in message
    assert "\n" not in message and "\x1b" not in message


def test_limit_is_configurable() -> None:
    assert check_remote_name("abcd", max_length=4) == "abcd"
    with pytest.raises(UnsafeNameError, match="longer than 3 bytes"):
        check_remote_name("abcd", max_length=3)
