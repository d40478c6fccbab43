"""Byte-level gatekeeping: a Stampli export is UTF-8 text, or it is refused whole.

Decoding a 200 MB file in Python costs more than parsing it, so the happy path only looks for
NUL bytes (memchr speed) and lets polars validate UTF-8 while it reads. When polars refuses the
bytes, `first_invalid_utf8` finds the exact offset for the message.
"""

import codecs
import re

from bridge_pipelines.errors import FileRejectedError

BOM = codecs.BOM_UTF8
_CHUNK = 1 << 22
_TEXT = re.compile(rb"[^ \t\r\n]")


def check_not_binary(data: bytes, source: str) -> None:
    """Refuse empty files and files holding NUL bytes (no text export has one).

    Raises:
        FileRejectedError: naming the file and, for binary content, the byte offset.
    """
    if _TEXT.search(data, len(BOM) if data.startswith(BOM) else 0) is None:
        raise FileRejectedError(f"{source}: empty file (no header row)")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise FileRejectedError(
            f"{source}: binary content, not a text export (NUL byte at byte offset {nul})"
        )


def first_invalid_utf8(data: bytes) -> int | None:
    """Byte offset of the first byte that is not valid UTF-8, or None when all of it is."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    for start in range(0, len(data), _CHUNK):
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(data[start : start + _CHUNK], final=start + _CHUNK >= len(data))
        except UnicodeDecodeError as exc:
            return start - pending + exc.start
    return None


def require_utf8(data: bytes, source: str) -> None:
    """Raise a located FileRejectedError when `data` is not UTF-8."""
    offset = first_invalid_utf8(data)
    if offset is not None:
        raise FileRejectedError(
            f"{source}: not UTF-8 text (invalid byte 0x{data[offset]:02x} at byte offset "
            f"{offset}); Stampli exports are UTF-8"
        )
