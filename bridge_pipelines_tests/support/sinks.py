"""Local alert sinks on free ports: an HTTP endpoint standing in for Slack's incoming
webhook, and an SMTP server (aiosmtpd) that keeps every message it receives."""

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class HttpSink:
    url: str
    posts: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def slack_sink() -> Iterator[HttpSink]:
    """A fake Slack incoming webhook: answers `ok` like Slack and records each JSON body."""
    posts: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            posts.append({"path": self.path, "body": json.loads(body or b"{}")})
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield HttpSink(url=f"http://127.0.0.1:{server.server_port}/services/T0/B0/x", posts=posts)
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class SmtpSink:
    host: str
    port: int
    messages: list[Message] = field(default_factory=list)


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """An SMTP server on a free port that keeps every message."""
    from aiosmtpd.controller import Controller

    sink = SmtpSink(host="127.0.0.1", port=0)

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            sink.messages.append(message_from_bytes(envelope.original_content))
            return "250 OK"

    # aiosmtpd checks readiness by connecting to its port, so it needs a real one: a free
    # port picked by the OS a moment before (a race here only fails the start, loudly).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        sink.port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
