"""Searching files, SQLite databases and captured text for known secrets in their encodings.

A secret can leak as itself or as the text some layer made of it: base64 (an Authorization
header, a blob inside JSON), base64url, URL-encoding (a query string), hex, JSON or repr
escaping. Base64 of a secret embedded in a longer value is found too: for each of the three
alignments, the part of the encoding that depends on the secret alone is searched for.

Hits are reported by label, encoding, place and a fingerprint (sha256 prefix) of the secret:
a report must never print the secret it found.
"""

import base64
import contextlib
import gzip
import hashlib
import json
import sqlite3
import urllib.parse
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

MIN_NEEDLE = 8  # shorter encodings would match ordinary text by chance
SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True)
class Secret:
    """A secret value and what to call it in a report; `users` make basic-auth needles."""

    label: str
    value: bytes
    users: tuple[str, ...] = ()

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.value).hexdigest()[:12]


@dataclass(frozen=True)
class Hit:
    label: str
    fingerprint: str
    encoding: str
    where: str

    def __str__(self) -> str:
        return f"{self.label} (sha256 {self.fingerprint}…) as {self.encoding} in {self.where}"


def _b64_fragments(raw: bytes, alphabet: str) -> Iterable[tuple[str, bytes]]:
    encode = base64.b64encode if alphabet == "base64" else base64.urlsafe_b64encode
    full = encode(raw)
    yield alphabet, full
    yield f"{alphabet} unpadded", full.rstrip(b"=")
    # Inside a longer value, at offset 0 mod 3: the groups made of the secret's bytes alone.
    yield f"{alphabet} at offset 0", full[: 4 * (len(raw) // 3)]
    for shift in (1, 2):
        # `shift` unknown bytes before the secret: skip the first group, which mixes them in,
        # and stop before the last group, which depends on what follows.
        total = shift + len(raw)
        encoded = encode(b"\x00" * shift + raw)
        yield f"{alphabet} at offset {shift}", encoded[4 : 4 * (total // 3)]


def needles(secret: Secret) -> dict[bytes, str]:
    """Every byte string that would betray `secret`, mapped to the name of its encoding."""
    raw = secret.value
    found: dict[bytes, str] = {}

    def add(encoding: str, needle: bytes) -> None:
        if len(needle) >= MIN_NEEDLE:
            found.setdefault(needle, encoding)

    add("plain", raw)
    for alphabet in ("base64", "base64url"):
        for encoding, needle in _b64_fragments(raw, alphabet):
            add(encoding, needle)
    add("hex", raw.hex().encode())
    add("HEX", raw.hex().upper().encode())
    add("url-encoded", urllib.parse.quote_from_bytes(raw, safe="").encode())
    add(
        "url-encoded (lower-case escapes)",
        urllib.parse.quote_from_bytes(raw, safe="").lower().encode(),
    )
    add("form-encoded", urllib.parse.quote_plus(raw, safe="").encode())
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        add("JSON-escaped", json.dumps(text)[1:-1].encode())
        add("JSON-escaped (UTF-8)", json.dumps(text, ensure_ascii=False)[1:-1].encode())
        add("repr-escaped", repr(text)[1:-1].encode())
        add("UTF-16", text.encode("utf-16-le"))
        for user in secret.users:
            credentials = f"{user}:{text}".encode()
            add(f"HTTP basic auth for {user!r}", base64.b64encode(credentials))
    return found


@dataclass
class LeakScanner:
    """Collects hits of any secret's needles in whatever it is shown."""

    secrets: list[Secret]
    hits: list[Hit] = field(default_factory=list)
    scanned: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._needles: list[tuple[bytes, Secret, str]] = []
        seen: set[bytes] = set()
        for secret in self.secrets:
            for needle, encoding in needles(secret).items():
                if needle not in seen:
                    seen.add(needle)
                    self._needles.append((needle, secret, encoding))

    def scan_bytes(self, where: str, data: bytes) -> None:
        self.scanned.append(where)
        for needle, secret, encoding in self._needles:
            if needle in data:
                self.hits.append(Hit(secret.label, secret.fingerprint, encoding, where))

    def scan_text(self, where: str, text: str) -> None:
        self.scan_bytes(where, text.encode("utf-8", "surrogateescape"))

    def scan_sqlite(self, path: Path, where: str, tables: set[str] | None = None) -> None:
        """Every cell of every table (or of `tables`), compressed blobs decompressed."""
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            names = [
                row[0]
                for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
            for name in names:
                if tables is not None and name not in tables:
                    continue
                chunks: list[bytes] = []
                for row in conn.execute(f'SELECT * FROM "{name}"'):
                    for cell in row:
                        chunks.extend(_cell_bytes(cell))
                self.scan_bytes(f"{where} table {name}", b"\n".join(chunks))
        finally:
            conn.close()

    def scan_tree(
        self,
        root: Path,
        *,
        skip: Callable[[Path], bool] = lambda _: False,
        only_tables: Callable[[Path], set[str] | None] = lambda _: None,
    ) -> None:
        """Every file under `root` as raw bytes, and every SQLite database table by table.

        `skip(path)` leaves a file's raw bytes out; `only_tables(path)` limits which tables of
        a database are read (for stores that legitimately hold secrets, such as an ERP's own).
        """
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            where = str(path.relative_to(root))
            data = path.read_bytes()
            tables = only_tables(path)
            if not skip(path) and tables is None:
                self.scan_bytes(where, data)
                for decoded in _decompressed(data):
                    self.scan_bytes(f"{where} (decompressed)", decoded)
            if data.startswith(SQLITE_MAGIC):
                self.scan_sqlite(path, where, tables)

    def report(self) -> str:
        return "\n".join(sorted({str(hit) for hit in self.hits}))


def _decompressed(data: bytes) -> list[bytes]:
    out = []
    if data[:2] == b"\x1f\x8b":
        with contextlib.suppress(OSError, EOFError, zlib.error):
            out.append(gzip.decompress(data))
    if data[:1] == b"\x78":
        with contextlib.suppress(zlib.error):
            out.append(zlib.decompress(data))
    return out


def _cell_bytes(cell: object) -> list[bytes]:
    if cell is None or isinstance(cell, int | float):
        return []
    if isinstance(cell, str):
        return [cell.encode("utf-8", "surrogateescape")]
    if isinstance(cell, bytes | memoryview):
        raw = bytes(cell)
        return [raw, *_decompressed(raw)]
    return [str(cell).encode()]
