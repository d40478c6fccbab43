"""The admin side under `/_sandbox/`: not part of any ERP's API; for tests, demo and benchmarks.

- `GET  /_sandbox/health`                      liveness and the sandbox's name
- `GET  /_sandbox/documents`                   every document the ERP holds, with its lines
- `GET|POST|DELETE /_sandbox/faults`           list, arm (one object or a list), clear all
- `DELETE /_sandbox/faults/{id}`               clear one
- `GET|POST /_sandbox/clock`                   read; `{"advance_seconds": n}` moves it forward
- `POST /_sandbox/reset`                       back to the seeded demo company
- `GET|DELETE /_sandbox/requests`              the request log, secrets masked
                                               (`?since=<id>&limit=<n>`)
- `GET|POST /_sandbox/config`                  rate limit, latency and ERP settings
- `GET|POST /_sandbox/periods`                 the posting-period calendar; `{"period":
                                               "YYYY-MM", "status": "open"|"closed"}` sets one
- `GET  /_sandbox/seed`                        the seeded codes and mapping tables
"""

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bridge_pipelines.sandbox.erp_base.faults import Fault
from bridge_pipelines.sandbox.erp_base.sandbox import ErpSandbox


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    return json.loads(raw) if raw.strip() else {}


def admin_routes(sandbox: ErpSandbox) -> list[Route]:
    """The `/_sandbox/` routes bound to one sandbox."""

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True, "name": sandbox.name})

    async def documents(request: Request) -> Response:
        return JSONResponse({"documents": sandbox.documents()})

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            return JSONResponse({"cleared": sandbox.faults.clear()})
        if request.method == "POST":
            try:
                body = await _json_body(request)
                specs = body if isinstance(body, list) else [body]
                parsed = [Fault.from_json(spec) for spec in specs]
            except (ValueError, TypeError) as exc:
                return _bad(str(exc))
            armed = [sandbox.faults.arm(fault).to_json() for fault in parsed]
            return JSONResponse({"armed": armed}, status_code=201)
        return JSONResponse({"faults": sandbox.faults.armed()})

    async def fault(request: Request) -> Response:
        cleared = sandbox.faults.clear(int(request.path_params["fault_id"]))
        return JSONResponse({"cleared": cleared}, status_code=200 if cleared else 404)

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            try:
                body = await _json_body(request)
                sandbox.clock.advance(float(body.get("advance_seconds", 0)))
            except (ValueError, TypeError, AttributeError) as exc:
                return _bad(str(exc))
        return JSONResponse(
            {"now": sandbox.clock.now().isoformat(), "offset_seconds": sandbox.clock.offset_seconds}
        )

    async def reset(request: Request) -> Response:
        sandbox.reset()
        return JSONResponse({"reset": True})

    async def requests(request: Request) -> Response:
        if request.method == "DELETE":
            return JSONResponse({"cleared": sandbox.store.execute("DELETE FROM requests").rowcount})
        since = int(request.query_params.get("since", 0))
        limit = int(request.query_params.get("limit", 1000))
        rows = sandbox.store.rows(
            "SELECT * FROM requests WHERE id > ? ORDER BY id LIMIT ?", (since, limit)
        )
        return JSONResponse(
            {"requests": [{**dict(r), "headers": json.loads(r["headers"])} for r in rows]}
        )

    async def config(request: Request) -> Response:
        if request.method == "POST":
            try:
                body = await _json_body(request)
                if not isinstance(body, dict):
                    raise ValueError("post a JSON object of settings")
                sandbox.update_config(body)
            except ValueError as exc:
                return _bad(str(exc))
        return JSONResponse({"config": sandbox.config})

    async def periods(request: Request) -> Response:
        if request.method == "POST":
            try:
                body = await _json_body(request)
                if not isinstance(body, dict):
                    raise ValueError('post {"period": "YYYY-MM", "status": "open"|"closed"}')
                sandbox.set_period(str(body.get("period")), str(body.get("status")))
            except ValueError as exc:
                return _bad(str(exc))
        return JSONResponse(
            {"today": sandbox.clock.now().date().isoformat(), "periods": sandbox.periods()}
        )

    async def seed(request: Request) -> Response:
        return JSONResponse(sandbox.seed_info())

    return [
        Route("/_sandbox/health", health, methods=["GET"]),
        Route("/_sandbox/documents", documents, methods=["GET"]),
        Route("/_sandbox/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_sandbox/faults/{fault_id:int}", fault, methods=["DELETE"]),
        Route("/_sandbox/clock", clock, methods=["GET", "POST"]),
        Route("/_sandbox/reset", reset, methods=["POST"]),
        Route("/_sandbox/requests", requests, methods=["GET", "DELETE"]),
        Route("/_sandbox/config", config, methods=["GET", "POST"]),
        Route("/_sandbox/periods", periods, methods=["GET", "POST"]),
        Route("/_sandbox/seed", seed, methods=["GET"]),
    ]
