"""Remote file names are attacker data: the single gate every name passes before we touch it.

A Stampli file name is informative only (never identity, never a local path: local files are
named by UUID). We still refuse names that could escape a folder, hide in a terminal or break a
filesystem, so an operator sees them quarantined instead of wondering where a file went
(CVE-2019-6111 shows what trusting a server's names leads to).
"""

import unicodedata

from bridge_pipelines.errors import UnsafeNameError

# Bidirectional overrides and isolates let a name display differently from what it is.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
# Cc covers C0, DEL and C1; Cs is a lone surrogate (bytes that were not valid UTF-8);
# Zl/Zp are line and paragraph separators, which split a log line as a newline does.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def describe(name: str) -> str:
    """The name escaped for a message or a log line: no control character reaches a terminal."""
    # repr escapes every non-printable character (controls, bidi, surrogates) and keeps the rest.
    return repr(name)


def unsafe_reason(name: str, *, max_length: int = 255) -> str | None:
    """Why a remote name is refused, or None when it is safe to use.

    Args:
        name: the name as the server sent it (a lone surrogate marks bytes that were not UTF-8).
        max_length: the longest accepted name, in UTF-8 bytes (what filesystems limit).
    """
    if not name:
        return "empty name"
    if name in (".", ".."):
        return "refers to a folder, not a file"
    if "/" in name or "\\" in name:
        return "contains a path separator"
    if ".." in name:
        return "contains '..'"
    if name.startswith("-"):
        # Never legitimate for Stampli exports, and read as an option by command-line tools.
        return "starts with '-'"
    if name != name.strip():
        return "starts or ends with white space"
    for char in name:
        if char == "\0":
            return "contains NUL"
        category = unicodedata.category(char)
        if category == "Cs":
            return "is not valid UTF-8"
        if category in _REFUSED_CATEGORIES:
            return f"contains control character U+{ord(char):04X}"
        if char in _BIDI_CONTROLS:
            return f"contains bidirectional control U+{ord(char):04X}"
    if len(name.encode("utf-8", "surrogateescape")) > max_length:
        return f"longer than {max_length} bytes"
    folded = unicodedata.normalize("NFKC", name)
    if folded != name and (
        folded in (".", "..") or "/" in folded or "\\" in folded or ".." in folded
    ):
        # U+FF0F, U+2025, U+FE52...: harmless here, but a path once a server or filesystem
        # that normalizes names has applied NFKC.
        return "becomes a path or '..' under Unicode normalization (NFKC)"
    return None


def check_remote_name(name: str, *, max_length: int = 255) -> str:
    r"""Return `name` unchanged when safe; otherwise raise.

    Refused: empty, `.`/`..`, `/`, `\\`, `..` anywhere, a leading `-`, leading or trailing white
    space, NUL and every control character (C0, DEL, C1), line separators, bidirectional
    controls, bytes that are not UTF-8, names over `max_length` UTF-8 bytes, and names that
    Unicode normalization (NFKC) turns into one of those path tricks. Any other Unicode is fine.

    Raises:
        UnsafeNameError: naming the refused name, escaped, and why.
    """
    reason = unsafe_reason(name, max_length=max_length)
    if reason is not None:
        raise UnsafeNameError(f"unsafe remote file name {describe(name)}: {reason}")
    return name
