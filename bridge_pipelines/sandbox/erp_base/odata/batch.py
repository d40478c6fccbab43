"""`$batch` in the multipart format (OData v3 and v4): requests parsed, responses written.

A batch body is `multipart/mixed`: each part is either one `application/http` request, or a
nested `multipart/mixed` changeset whose requests succeed or fail together. The sandbox runs
each request through its own dispatch and writes the answers back in the same order; a
changeset that fails answers with the failing request's response alone (and writes nothing).
"""

import re
import secrets
from dataclasses import dataclass, field
from http import HTTPStatus

_BOUNDARY = re.compile(r'boundary\s*=\s*"?([^";]+)"?', re.IGNORECASE)


class BatchFormatError(ValueError):
    """A `$batch` body that is not well-formed multipart."""


@dataclass
class BatchRequest:
    """One request inside a batch."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    content_id: str | None = None


@dataclass
class BatchPart:
    """A top-level part: one request, or a changeset of several."""

    requests: list[BatchRequest]
    changeset: bool = False


@dataclass
class BatchResponse:
    """One answer inside a batch response."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    content_id: str | None = None


def boundary_of(content_type: str | None) -> str | None:
    """The `boundary` of a `multipart/mixed` content type, or None when it is not one."""
    if not content_type or not content_type.lower().startswith("multipart/mixed"):
        return None
    match = _BOUNDARY.search(content_type)
    return match.group(1) if match else None


def _split_head(block: bytes) -> tuple[dict[str, str], bytes]:
    """Headers (lower-cased names) and the rest, from `Name: value` lines up to a blank line."""
    text = block.replace(b"\r\n", b"\n")
    head, _, rest = text.partition(b"\n\n")
    headers: dict[str, str] = {}
    for line in head.decode("utf-8").split("\n"):
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return headers, rest


def _parts(body: bytes, boundary: str) -> list[bytes]:
    delimiter = b"--" + boundary.encode()
    segments = body.split(delimiter)
    if len(segments) < 2:
        raise BatchFormatError(f"no part delimited by '--{boundary}'")
    parts: list[bytes] = []
    for segment in segments[1:]:
        if segment.startswith(b"--"):
            break
        parts.append(segment.lstrip(b"\r\n").removesuffix(b"\n").removesuffix(b"\r"))
    return parts


def _request(part: bytes) -> BatchRequest:
    headers, payload = _split_head(part)
    if "application/http" not in headers.get("content-type", ""):
        raise BatchFormatError("a batch part must be application/http")
    line, _, rest = payload.lstrip(b"\n").partition(b"\n")
    words = line.decode("utf-8").strip().split(" ")
    if len(words) < 2:
        raise BatchFormatError(f"bad request line '{line.decode('utf-8', 'replace')}'")
    inner_headers: dict[str, str]
    if rest.startswith(b"\n"):
        inner_headers, body = {}, rest[1:]
    else:
        inner_headers, body = _split_head(rest)
    return BatchRequest(
        method=words[0].upper(),
        url=words[1],
        headers=inner_headers,
        body=body.rstrip(b"\n"),
        content_id=headers.get("content-id") or inner_headers.get("content-id"),
    )


def parse_batch(body: bytes, content_type: str | None) -> list[BatchPart]:
    """The parts of a `$batch` body.

    Raises:
        BatchFormatError: not multipart/mixed, or a part that is not a request or changeset.
    """
    boundary = boundary_of(content_type)
    if boundary is None:
        raise BatchFormatError("a $batch request must be multipart/mixed with a boundary")
    result: list[BatchPart] = []
    for part in _parts(body, boundary):
        headers, payload = _split_head(part)
        inner = boundary_of(headers.get("content-type"))
        if inner is not None:
            requests = [_request(p) for p in _parts(payload, inner)]
            if any(r.method == "GET" for r in requests):
                raise BatchFormatError("a changeset may not hold a GET")
            result.append(BatchPart(requests, changeset=True))
        else:
            result.append(BatchPart([_request(part)]))
    return result


def _http_part(response: BatchResponse) -> bytes:
    head = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if response.content_id:
        head.append(f"Content-ID: {response.content_id}")
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = ""
    lines = [f"HTTP/1.1 {response.status} {reason}".rstrip()]
    lines += [f"{name}: {value}" for name, value in response.headers]
    text = "\r\n".join(head) + "\r\n\r\n" + "\r\n".join(lines) + "\r\n\r\n"
    return text.encode() + response.body + b"\r\n"


def render_batch(answers: list[tuple[bool, list[BatchResponse]]]) -> tuple[bytes, str]:
    """The batch response body and its content type; each answer is (changeset?, responses)."""
    boundary = f"batchresponse_{secrets.token_hex(8)}"
    out = bytearray()
    for changeset, responses in answers:
        out += f"--{boundary}\r\n".encode()
        if not changeset:
            out += _http_part(responses[0])
            continue
        inner = f"changesetresponse_{secrets.token_hex(8)}"
        out += f"Content-Type: multipart/mixed; boundary={inner}\r\n\r\n".encode()
        for response in responses:
            out += f"--{inner}\r\n".encode() + _http_part(response)
        out += f"--{inner}--\r\n".encode()
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/mixed; boundary={boundary}"
