"""OAuth 2.0 tokens kept between runs: one locked, atomic, encrypted file per tenant and client.

Acumatica's refresh tokens rotate [C]: each refresh spends the token and answers a new one, and
a spent token is refused. Two runs that both refresh from the same token would leave one of
them (and, if it saved last, every later run) holding a dead token. So:

- **One lock.** Every read-refresh-write happens under an exclusive `flock` on `<file>.lock`
  (held across the token request, bounded by the client's timeouts). A second run waits, then
  spends the refresh token the first one saved. Access tokens are never shared between runs
  (each run logs its own out), so one run's logout never ends another's session.
- **Saved before anything else.** The answer of a refresh is written (temporary file, fsync,
  `os.replace`, fsync of the folder) before the lock is released and before the access token
  is used: a crash after that never loses the rotated token.
- **Encrypted at rest.** Fernet (AES-128-CBC + HMAC-SHA256) with a key derived by HKDF-SHA256
  from the tenant's OAuth client secret (itself encrypted in the tenant file): the token file
  alone opens nothing. Owner-only permissions (0600).

The one window left is Acumatica's: it spends the old token before its answer reaches us. If
that answer is lost (timeout, reset), the saved token is dead; the client then falls back to
the password grant when the tenant has one, else stops with a `ConfigError` asking for a new
authorisation (README, "OAuth").
"""

import base64
import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bridge_pipelines.errors import ConfigError

SALT = b"bridge_pipelines acumatica token store v1"


def _fernet(client_id: str, client_secret: str) -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=SALT, info=client_id.encode("utf-8")
    ).derive(client_secret.encode("utf-8"))
    return Fernet(base64.urlsafe_b64encode(key))


class TokenStore:
    """The saved refresh token of one OAuth client: `{refresh_token, saved_at}`."""

    def __init__(self, path: Path, client_id: str, client_secret: str) -> None:
        self.path = path
        self._fernet = _fernet(client_id, client_secret)

    @contextlib.contextmanager
    def locked(self) -> Iterator[dict[str, Any]]:
        """The saved state under the exclusive lock; changes to it are saved on the way out."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            state = self._load()
            before = dict(state)
            yield state
            if state != before:
                self._save(state)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def save_now(self, state: dict[str, Any]) -> None:
        """Write `state` at once (inside `locked`): a rotated token is on disk before use."""
        self._save(state)

    def _load(self) -> dict[str, Any]:
        try:
            sealed = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        try:
            state: dict[str, Any] = json.loads(self._fernet.decrypt(sealed))
        except (InvalidToken, ValueError):
            raise ConfigError(
                f"the Acumatica token file {self.path} cannot be opened with this tenant's "
                "client secret (the secret changed?); delete it to authorise again"
            ) from None
        return state

    def _save(self, state: dict[str, Any]) -> None:
        sealed = self._fernet.encrypt(json.dumps(state).encode("utf-8"))
        fd, temp = tempfile.mkstemp(prefix=".tokens-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(sealed)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temp, 0o600)
            os.replace(temp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        folder = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
