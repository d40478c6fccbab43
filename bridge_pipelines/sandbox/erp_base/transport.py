"""Reach the TCP connection under an ASGI request, to reset it or close it mid-request.

ASGI hides the transport, so uvicorn runs with `TrackingH11Protocol`, which records each
connection's transport under the client address that ASGI puts in `scope["client"]`.
"""

import asyncio
import contextlib
import socket
import struct
from collections.abc import MutableMapping
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

_TRANSPORTS: dict[tuple[str, int], asyncio.Transport] = {}


class TrackingH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, remembering each connection's transport by client address."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self.client:
            _TRANSPORTS[self.client] = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self.client:
            _TRANSPORTS.pop(self.client, None)
        super().connection_lost(exc)


def _transport(scope: MutableMapping[str, Any]) -> asyncio.Transport | None:
    client = scope.get("client")
    return _TRANSPORTS.get((client[0], client[1])) if client else None


def reset_connection(scope: MutableMapping[str, Any]) -> bool:
    """Send a TCP RST: `SO_LINGER` 0, then abort. False when the connection is already gone."""
    transport = _transport(scope)
    if transport is None:
        return False
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    return True


def close_connection(scope: MutableMapping[str, Any]) -> bool:
    """Close the connection without an answer (FIN, not RST)."""
    transport = _transport(scope)
    if transport is None:
        return False
    transport.close()
    return True
