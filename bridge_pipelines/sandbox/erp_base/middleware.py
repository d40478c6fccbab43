"""The layer in front of every ERP route: request log, rate limit, latency and faults.

Admin routes (`/_sandbox/...`) bypass it. For the `*_after_commit` faults and `garbage`, the
ERP route runs to completion (so its write is committed) and its answer is then replaced.
"""

import asyncio
import contextlib
import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bridge_pipelines.sandbox.erp_base.faults import AFTER_COMMIT, Fault, FaultAction
from bridge_pipelines.sandbox.erp_base.masking import mask_headers, mask_query
from bridge_pipelines.sandbox.erp_base.sandbox import ErpSandbox
from bridge_pipelines.sandbox.erp_base.transport import close_connection, reset_connection

ADMIN_PREFIX = "/_sandbox"


class _Captured:
    def __init__(self) -> None:
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")


class SandboxMiddleware:
    """Pure ASGI middleware wrapping the ERP routes of one sandbox."""

    def __init__(self, app: ASGIApp, sandbox: ErpSandbox) -> None:
        self.app = app
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status: list[int | None] = [None]

        async def logged_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        outcome = "ok"
        try:
            outcome = await self._handle(scope, receive, logged_send)
        finally:
            self._log(scope, status[0], outcome, time.monotonic() - started)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> str:
        sandbox = self.sandbox
        request = Request(scope)
        async with sandbox.limiter.slot() as granted:
            if not granted:
                await sandbox.answer_rate_limit(request, None)(scope, receive, send)
                return "rate_limited"
            wait = sandbox.limiter.try_acquire()
            if wait is not None:
                retry_after = wait if sandbox.config["rate_limit_retry_after"] else None
                await sandbox.answer_rate_limit(request, retry_after)(scope, receive, send)
                return "rate_limited"
            if sandbox.config["latency_ms"]:
                await asyncio.sleep(float(sandbox.config["latency_ms"]) / 1000)
            query = scope.get("query_string", b"").decode("latin-1")
            faults = sandbox.faults.take(scope["method"], scope["path"], query)
            for taken in faults:
                if taken.action is FaultAction.LATENCY:
                    await asyncio.sleep(taken.ms / 1000)
            fault = next((f for f in faults if f.action is not FaultAction.LATENCY), None)
            if fault is None:
                await self.app(scope, receive, send)
                return "ok"
            if fault.action in AFTER_COMMIT:
                await self._after_commit(fault, scope, receive, send)
            else:
                await self._before_commit(fault, request)(scope, receive, send)
            return fault.action.value

    def _before_commit(self, fault: Fault, request: Request) -> Response:
        sandbox = self.sandbox
        match fault.action:
            case FaultAction.RATE_LIMIT:
                return sandbox.answer_rate_limit(request, fault.retry_after)
            case FaultAction.ERROR_BEFORE_COMMIT:
                return sandbox.answer_server_error(request, fault.status)
            case FaultAction.EXPIRE_SESSION:
                return sandbox.answer_expire_session(request, fault)
            case FaultAction.AUTH_FAIL:
                return sandbox.answer_auth_fail(request, fault)
            case _:
                return sandbox.answer_validation(request, fault)

    async def _after_commit(self, fault: Fault, scope: Scope, receive: Receive, send: Send) -> None:
        captured = _Captured()
        await self.app(scope, receive, captured.send)
        match fault.action:
            case FaultAction.ERROR_AFTER_COMMIT:
                request = Request(scope)
                await self.sandbox.answer_server_error(request, fault.status)(scope, receive, send)
            case FaultAction.RESET_AFTER_COMMIT:
                reset_connection(scope)
                await _let_server_notice()
            case FaultAction.HANG_AFTER_COMMIT:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_until_disconnect(receive), timeout=fault.seconds)
                close_connection(scope)
                await _let_server_notice()
            case _:
                body = bytes(captured.body[: len(captured.body) // 2])
                headers = [(k, v) for k, v in captured.headers if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(body)).encode()))
                await send(
                    {"type": "http.response.start", "status": captured.status, "headers": headers}
                )
                await send({"type": "http.response.body", "body": body})

    def _log(self, scope: Scope, status: int | None, outcome: str, seconds: float) -> None:
        query = scope.get("query_string", b"").decode("latin-1")
        self.sandbox.store.execute(
            "INSERT INTO requests (at, method, path, query, headers, status, outcome, duration_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self.sandbox.clock.now().isoformat(),
                scope["method"],
                scope["path"],
                mask_query(query),
                json.dumps(mask_headers(scope.get("headers", []))),
                status,
                outcome,
                round(seconds * 1000, 3),
            ),
        )


async def _let_server_notice() -> None:
    # uvicorn learns of the closed transport in a callback; until it runs, it would try to
    # answer 500 on the dead connection after the app returns.
    for _ in range(3):
        await asyncio.sleep(0)


async def _until_disconnect(receive: Receive) -> None:
    while True:
        message: dict[str, Any] = dict(await receive())
        if message["type"] == "http.disconnect":
            return
