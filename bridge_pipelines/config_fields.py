"""Field types every part of a tenant file shares: sealed secrets and frozen, strict models.

A tenant file is reviewed in git, so a secret field holds ciphertext only
(`enc:v1:<key id>:<base64>`, see `tenants.secrets`); a typo in a key must be an error, not a
default, so every section forbids unknown keys. Kept apart from `tenants` so that the SFTP and
ERP packages, which own their sections' models, do not import the tenant layer above them.
"""

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

ENCRYPTED_RE = re.compile(r"^enc:v1:[A-Za-z0-9_-]{1,32}:[A-Za-z0-9_=-]+$")


def _check_encrypted(value: str) -> str:
    if not ENCRYPTED_RE.match(value):
        # Never echo the value: it may be a plaintext secret pasted by mistake.
        raise ValueError(
            "must be ciphertext from `bridge secrets encrypt` (enc:v1:...), not a plain value"
        )
    return value


EncryptedSecret = Annotated[str, AfterValidator(_check_encrypted)]
"""A secret as a tenant file holds it: `enc:v1:<key id>:<base64>`, bound to tenant and field."""


class FrozenModel(BaseModel):
    """Immutable, and an unknown key is an error (a typo must not become a default)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
