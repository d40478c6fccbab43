"""The leak scanner the secrets e2e test relies on: it finds every encoding, and never prints."""

import base64
import gzip
import json
import sqlite3
import urllib.parse
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge_pipelines_tests.support.leaks import LeakScanner, Secret

PASSWORD = "Bridge#Demo1/ü+x=="
SECRET = Secret("acme erp.password", PASSWORD.encode(), ("BRIDGE",))


def hidden_forms(value: str) -> dict[str, bytes]:
    raw = value.encode()
    return {
        "plain": raw,
        "base64": base64.b64encode(raw),
        "base64url": base64.urlsafe_b64encode(raw).rstrip(b"="),
        "url": urllib.parse.quote(value, safe="").encode(),
        "form": urllib.parse.quote_plus(value).encode(),
        "hex": raw.hex().encode(),
        "json": json.dumps(value).encode(),
        "basic": b"Authorization: Basic " + base64.b64encode(f"BRIDGE:{value}".encode()),
        "base64 inside a blob": base64.b64encode(b'{"user":"BRIDGE","pw":"' + raw + b'"}'),
    }


@pytest.mark.parametrize("form", list(hidden_forms(PASSWORD)))
def test_every_encoding_is_found_and_reported_by_fingerprint(form: str) -> None:
    scanner = LeakScanner([SECRET])
    scanner.scan_bytes("a log line", b"12:00 INFO x=" + hidden_forms(PASSWORD)[form] + b" done")
    assert scanner.hits, form
    report = scanner.report()
    assert "acme erp.password" in report and SECRET.fingerprint in report
    for needle in hidden_forms(PASSWORD).values():
        assert needle.decode() not in report


@given(st.binary(max_size=8), st.binary(max_size=8))
def test_base64_of_a_secret_anywhere_in_a_blob_is_found(before: bytes, after: bytes) -> None:
    scanner = LeakScanner([SECRET])
    scanner.scan_bytes("blob", base64.b64encode(before + PASSWORD.encode() + after))
    assert scanner.hits


def test_near_misses_are_not_hits() -> None:
    scanner = LeakScanner([SECRET])
    scanner.scan_bytes("log", b"OperatorPassword=*** " + PASSWORD[:-3].encode())
    assert not scanner.hits


def test_sqlite_cells_and_compressed_files_are_searched(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE events (id INTEGER, body BLOB)")
        conn.execute("INSERT INTO events VALUES (1, ?)", (zlib.compress(PASSWORD.encode()),))
    (tmp_path / "run.log.gz").write_bytes(gzip.compress(b"x " + PASSWORD.encode()))
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "credentials.yaml").write_text(f"password: {PASSWORD}\n")
    scanner = LeakScanner([SECRET])
    scanner.scan_tree(tmp_path, skip=lambda p: "kept" in p.parts)
    wheres = {hit.where for hit in scanner.hits}
    assert "store.db table events" in wheres
    assert "run.log.gz (decompressed)" in wheres
    assert not any("credentials" in w for w in wheres)
