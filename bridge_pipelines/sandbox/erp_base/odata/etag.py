"""Weak ETags over an entity's state, and the `If-Match` precondition.

The ETag is a hash of the entity's stored JSON, so it changes with every write and needs no
version column. `W/"..."` weak validators, as SAP B1's Service Layer sends them [C sbo-skills
etag guide]; a client's `If-Match` is honoured when it is `*` or equals the current tag.
"""

import hashlib
import json
from typing import Any


def etag_of(record: Any) -> str:
    """`W/"<16 hex>"` over the record's canonical JSON."""
    text = json.dumps(record, sort_keys=True, default=str, ensure_ascii=False)
    return 'W/"' + hashlib.sha256(text.encode()).hexdigest()[:16] + '"'


def if_match_fails(header: str | None, current: str, *, weak_only: bool = False) -> bool:
    """True when an `If-Match` header is present and none of its tags is current.

    `weak_only` follows SAP B1: only values starting `W/` are checked; others are ignored.
    """
    if header is None or not header.strip():
        return False
    tags = [tag.strip() for tag in header.split(",") if tag.strip()]
    if weak_only:
        tags = [tag for tag in tags if tag == "*" or tag.startswith("W/")]
        if not tags:
            return False
    return not any(tag in ("*", current) for tag in tags)
