"""Encrypted tenant secrets: AES-256-GCM with a small keyring of rotatable master keys.

Scheme (the simplest sound one; a per-tenant data key wrapped by a master key would add a second
layer to rotate without protecting anything more on a single machine):

- A ciphertext is `enc:v1:<key id>:<base64url(nonce || ciphertext || tag)>`, with a random
  12-byte nonce per encryption (2^32 encryptions per key keep the collision risk negligible; we
  make a few per tenant).
- The associated data is `"<tenant id>|<field>|<key id>"`: a ciphertext copied into another
  tenant's file or another field does not decrypt, and neither does one whose key id was edited.
- The keyring holds several keys by id; the `primary` one encrypts, decryption picks the key named
  in the ciphertext. Rotation adds a new primary, re-encrypts every tenant file, and retires the
  old key once no file uses it.
- Keys come from `BRIDGE_MASTER_KEYS` (JSON, for containers with a secret store) or from a key
  file (`Settings().resolved_key_file`). A key file readable or writable by group or others is
  refused, as OpenSSH refuses such a private key: a warning would be read after the leak.
"""

import base64
import binascii
import json
import os
import re
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, SecretStr

from bridge_pipelines.config_fields import ENCRYPTED_RE, EncryptedSecret
from bridge_pipelines.erps import registry
from bridge_pipelines.erps.settings import ErpSettings
from bridge_pipelines.errors import ConfigError, SecretError
from bridge_pipelines.settings import get_settings
from bridge_pipelines.tenants.models import TenantConfig

ENV_VAR = "BRIDGE_MASTER_KEYS"
KEY_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
TOKEN_PREFIX = "enc:v1:"
_NONCE_BYTES = 12
_KEY_BYTES = 32
_KEYGEN_HINT = "create one with `bridge secrets keygen` (and back it up) or set BRIDGE_MASTER_KEYS"


class UndecryptableSecretError(SecretError):
    """A secret field that does not decrypt; carries tenant, field and reason, never the value."""

    def __init__(self, tenant_id: str, field: str, reason: str) -> None:
        self.tenant_id = tenant_id
        self.field = field
        self.reason = reason
        super().__init__(f"tenant {tenant_id!r}, field {field}: {reason}")


def key_id_of(token: str) -> str | None:
    """The key id a ciphertext names, or None if it is not `enc:v1:` ciphertext."""
    if not ENCRYPTED_RE.match(token):
        return None
    return token[len(TOKEN_PREFIX) :].split(":", 1)[0]


class Keyring:
    """Master keys by id; the primary encrypts, any of them decrypts what it encrypted."""

    def __init__(self, keys: dict[str, bytes], primary: str, path: Path | None = None) -> None:
        if primary not in keys:
            raise ConfigError(f"primary key {primary!r} is not among the keys")
        for key_id, key in keys.items():
            if not KEY_ID_RE.match(key_id):
                raise ConfigError(f"key id {key_id!r} must be 1-32 chars of A-Z, a-z, 0-9, _ and -")
            if len(key) != _KEY_BYTES:
                raise ConfigError(f"key {key_id!r} must be {_KEY_BYTES} bytes")
        self._keys = dict(keys)
        self._primary = primary
        self._path = path

    def __repr__(self) -> str:
        return f"Keyring(primary={self._primary!r}, key_ids={self.key_ids!r})"

    @property
    def primary(self) -> str:
        """The id of the key that encrypts."""
        return self._primary

    @property
    def key_ids(self) -> list[str]:
        """Every key id, in the order they were added."""
        return list(self._keys)

    @property
    def path(self) -> Path | None:
        """The key file, or None when the keys came from the environment."""
        return self._path

    @classmethod
    def load(cls, path: Path | None = None) -> "Keyring":
        """The keyring from `path`, else `BRIDGE_MASTER_KEYS`, else the configured key file.

        Raises:
            ConfigError: missing, unreadable, malformed, or group/other-accessible key file.
        """
        if path is None:
            env = os.environ.get(ENV_VAR)
            if env:
                return cls._parse(env, source=ENV_VAR, path=None)
            path = get_settings().resolved_key_file
        try:
            text = _read_private(path)
        except FileNotFoundError:
            raise ConfigError(f"no key file at {path}: {_KEYGEN_HINT}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read key file {path}: {exc.__class__.__name__}") from None
        return cls._parse(text, source=str(path), path=path)

    @classmethod
    def _parse(cls, text: str, source: str, path: Path | None) -> "Keyring":
        # Messages name the source and the shape expected, never key material.
        shape = '{"primary": "k1", "keys": {"k1": "<base64 of 32 bytes>"}}'
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            raise ConfigError(f"{source}: not JSON; expected {shape}") from None
        if not isinstance(document, dict) or not isinstance(document.get("keys"), dict):
            raise ConfigError(f"{source}: expected {shape}")
        keys: dict[str, bytes] = {}
        for key_id, encoded in document["keys"].items():
            try:
                keys[key_id] = _b64decode(str(encoded))
            except (binascii.Error, ValueError):
                raise ConfigError(f"{source}: key {key_id!r} is not base64") from None
        if not keys:
            raise ConfigError(f"{source}: no keys; {_KEYGEN_HINT}")
        primary = document.get("primary")
        if not isinstance(primary, str):
            raise ConfigError(f"{source}: 'primary' must name one of the keys")
        try:
            return cls(keys, primary, path)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None

    @classmethod
    def generate(cls, path: Path) -> "Keyring":
        """A new key file holding one key, mode 0600; an existing file is never overwritten.

        Raises:
            ConfigError: the file already exists.
        """
        keyring = cls({"k1": AESGCM.generate_key(bit_length=256)}, "k1", path)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise ConfigError(
                f"key file {path} already exists; refusing to overwrite it "
                "(it may be the only copy of the keys your tenant files need)"
            ) from None
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(keyring._dump())
            handle.flush()
            os.fsync(handle.fileno())
        return keyring

    def add_key(self) -> str:
        """Rotation: a new key becomes primary and the key file is saved; returns its id."""
        numbers = [int(k[1:]) for k in self._keys if re.fullmatch(r"k\d+", k)]
        key_id = f"k{max(numbers, default=0) + 1}"
        while key_id in self._keys:  # pragma: no cover - only with hand-made ids
            key_id += "_"
        self._keys[key_id] = AESGCM.generate_key(bit_length=256)
        previous = self._primary
        self._primary = key_id
        try:
            self._save()
        except BaseException:
            del self._keys[key_id]
            self._primary = previous
            raise
        return key_id

    def remove_key(self, key_id: str) -> None:
        """Drop a retired key and save; the caller checks first that no tenant file uses it.

        Raises:
            ConfigError: unknown key, or the primary key.
        """
        if key_id not in self._keys:
            raise ConfigError(f"no key {key_id!r} in the keyring (keys: {', '.join(self._keys)})")
        if key_id == self._primary:
            raise ConfigError(f"key {key_id!r} is the primary key; rotate before retiring it")
        removed = self._keys.pop(key_id)
        try:
            self._save()
        except BaseException:
            self._keys[key_id] = removed
            raise

    def encrypt(self, tenant_id: str, field: str, plaintext: str) -> str:
        """Ciphertext for `field` of `tenant_id`, with the primary key."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(self._keys[self._primary]).encrypt(
            nonce, plaintext.encode("utf-8"), _aad(tenant_id, field, self._primary)
        )
        body = base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")
        return f"{TOKEN_PREFIX}{self._primary}:{body}"

    def decrypt(self, tenant_id: str, field: str, token: str) -> SecretStr:
        """The plain value, wrapped so that it stays out of reprs.

        Raises:
            UndecryptableSecretError: malformed token, unknown key, or a ciphertext for another
                tenant, field or key, or altered. The message never holds the value.
        """
        key_id = key_id_of(token)
        if key_id is None:
            raise UndecryptableSecretError(
                tenant_id, field, "not ciphertext from `bridge secrets encrypt` (enc:v1:...)"
            )
        key = self._keys.get(key_id)
        if key is None:
            raise UndecryptableSecretError(
                tenant_id,
                field,
                f"encrypted with key {key_id!r}, which the keyring does not hold "
                f"(keys: {', '.join(self._keys)})",
            )
        try:
            blob = _b64decode(token.rsplit(":", 1)[1])
        except (binascii.Error, ValueError):
            blob = b""
        if len(blob) < _NONCE_BYTES + 16:
            raise UndecryptableSecretError(tenant_id, field, "ciphertext is truncated")
        try:
            plain = AESGCM(key).decrypt(
                blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], _aad(tenant_id, field, key_id)
            )
            return SecretStr(plain.decode("utf-8"))
        except (InvalidTag, UnicodeDecodeError):
            raise UndecryptableSecretError(
                tenant_id,
                field,
                f"does not decrypt with key {key_id!r}: it was encrypted for another tenant "
                "or field, or altered",
            ) from None

    def reencrypt(self, tenant_id: str, field: str, token: str) -> str:
        """The same secret under the primary key; a token already under it is returned as is."""
        plain = self.decrypt(tenant_id, field, token)
        if key_id_of(token) == self._primary:
            return token
        return self.encrypt(tenant_id, field, plain.get_secret_value())

    def _dump(self) -> str:
        keys = {k: base64.b64encode(v).decode("ascii") for k, v in self._keys.items()}
        return json.dumps({"primary": self._primary, "keys": keys}, indent=2) + "\n"

    def _save(self) -> None:
        if self._path is None:
            raise ConfigError(f"the keys come from {ENV_VAR}: add the new key there and redeploy")
        # A fresh random name, created exclusively and never through a symlink: a name planted
        # beforehand (a link to a file of the attacker's) makes the save fail, never leak.
        temporary = self._path.with_name(f".{self._path.name}.{secrets.token_hex(16)}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                os.fchmod(handle.fileno(), 0o600)
                handle.write(self._dump())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self._path)
        finally:
            temporary.unlink(missing_ok=True)
        _fsync_dir(self._path.parent)


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _read_private(path: Path) -> str:
    """The key file's text, refused unless the file read is regular and owner-only.

    The mode is checked on the open file (`fstat`), so the file checked is the file read.

    Raises:
        ConfigError: group or others may access it, or it is not a regular file.
        OSError: it cannot be opened or read (FileNotFoundError when missing).
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"key file {path} is not a regular file")
        if os.name == "posix" and info.st_mode & 0o077:
            raise ConfigError(
                f"key file {path} is accessible by group or others (mode "
                f"{info.st_mode & 0o777:04o}); run `chmod 600 {path}`"
            )
        return handle.read().decode("utf-8")


def _aad(tenant_id: str, field: str, key_id: str) -> bytes:
    return f"{tenant_id}|{field}|{key_id}".encode()


def _b64decode(text: str) -> bytes:
    text = text.strip()
    padded = text + "=" * (-len(text) % 4)
    alphabet = padded.replace("+", "-").replace("/", "_")
    return base64.urlsafe_b64decode(alphabet.encode("ascii"))


def _fsync_dir(directory: Path) -> None:
    if os.name != "posix":  # pragma: no cover
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_SECRET_MARKER = get_args(EncryptedSecret)[1]


def _is_secret(annotation: Any, metadata: list[Any]) -> bool:
    """Whether a field is typed `EncryptedSecret`, possibly optional."""
    if any(item is _SECRET_MARKER for item in metadata):
        return True
    return any(arg is _SECRET_MARKER or _is_secret(arg, []) for arg in get_args(annotation))


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation is ErpSettings:
            # The ERP block is whichever connector's model `kind` names: all of them.
            return [annotation, *(p.settings_model for p in registry.plugins())]
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models_in(arg)]


def secret_field_paths(model: type[BaseModel] = TenantConfig, prefix: str = "") -> list[str]:
    """Dotted paths of every `EncryptedSecret` field, e.g. `sftp.password`; found by type."""
    paths: list[str] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        if _is_secret(info.annotation, list(info.metadata)):
            paths.append(path)
            continue
        for nested in _models_in(info.annotation):
            paths.extend(p for p in secret_field_paths(nested, f"{path}.") if p not in paths)
    return paths


def encrypted_fields(tenant: BaseModel, prefix: str = "") -> Iterator[tuple[str, str]]:
    """`(dotted path, ciphertext)` of every secret field the tenant sets.

    Walks the values, not the declared types: the ERP block's fields are its connector's.
    """
    for name, info in type(tenant).model_fields.items():
        value = getattr(tenant, name, None)
        if value is None:
            continue
        if _is_secret(info.annotation, list(info.metadata)):
            yield f"{prefix}{name}", str(value)
        elif isinstance(value, BaseModel):
            yield from encrypted_fields(value, f"{prefix}{name}.")
