"""The Infor ION API Gateway and M3 REST API v2 as one sandbox (paths as in `.ionapi` files).

- OAuth2 [C erp-facts §3]: `POST /{ti}/as/token.oauth2` (form) with `grant_type=password`,
  the app's `client_id`/`client_secret` (`ci`/`cs`) and the service account's
  `username`/`password` (`saak`/`sask`), or `grant_type=refresh_token`; the answer carries
  `access_token`, `token_type`, `expires_in` and `refresh_token`. `/{ti}/as/revoke_token.oauth2
  ?token=...` (GET or POST) revokes the grant. A wrong client secret is 401 `invalid_client`
  and a wrong service account 400 `invalid_grant` (RFC 6749 §5.2 [I]). Token lifetime
  `token_lifetime_seconds` (2 hours [C example]) on the sandbox clock.
- M3 [C]: `GET /{ti}/M3/m3api-rest/v2/execute/{PROGRAM}/{TRANSACTION}?FIELD=...` with matrix
  parameters (`;maxrecs=;returncols=;cono=;divi=`, also accepted as lower-case query
  parameters), and the bulk `POST /{ti}/M3/m3api-rest/v2/execute` with `{"program",
  "transactions": [{"transaction", "record"}]}`. Every answer is HTTP 200 with the v2 shape,
  failures included (`errorMessage`, `errorType`, `errorCode`, `errorField`), and the counts
  spelled as M3 spells them (`nrOfSuccessfullTransactions`).
- A bearer token that is missing, expired or revoked is 401 [C]; the ION API Gateway's
  per-client Quota and Throttling (spike arrest) answer 429 without Retry-After [C/I]
  (`quota_per_minute`, `spike_arrest_per_second`, 0 = off).
- Company and division: a call without `cono` fails when `require_company` is on (default [I];
  a real user has a default company); an unknown company answers `XAU0008` "Not authorized
  for company" on `CONO` [C legacy example]; a division defaults to `default_division` [I].
"""

import json
import math
import secrets
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from bridge_pipelines.sandbox.erp_base.app import build_app
from bridge_pipelines.sandbox.erp_base.faults import Fault
from bridge_pipelines.sandbox.erp_base.sandbox import ErpSandbox
from bridge_pipelines.sandbox.infor_m3 import transactions as m3
from bridge_pipelines.sandbox.infor_m3.seed import (
    CLIENT_ID,
    CLIENT_SECRET,
    INFOR_M3_SEED,
    SERVICE_KEY,
    SERVICE_SECRET,
)
from bridge_pipelines.sandbox.infor_m3.store import SCHEMA, write_seed

API_ROOT = f"/{INFOR_M3_SEED.tenant}/M3/m3api-rest/v2/execute"
TOKEN_PATH = f"/{INFOR_M3_SEED.tenant}/as/token.oauth2"
REVOKE_PATH = f"/{INFOR_M3_SEED.tenant}/as/revoke_token.oauth2"
OPTIONS = frozenset(
    {
        "maxrecs",
        "returncols",
        "metadata",
        "excludempty",
        "cono",
        "divi",
        "extendedresult",
        "righttrim",
        "m3user",
    }
)
DEFAULT_MAXRECS = 100  # [I] what clients see when they send none


def envelope(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The v2 answer around transaction results [C shape, "Successfull" spelling included]."""
    failed = sum(1 for r in results if "errorMessage" in r)
    return {
        "results": results,
        "wasTerminated": False,
        "nrOfSuccessfullTransactions": len(results) - failed,
        "nrOfFailedTransactions": failed,
    }


def failure(transaction: str, nok: m3.Nok) -> dict[str, Any]:
    """One failed transaction's result."""
    return {
        "transaction": transaction,
        "errorMessage": nok.message,
        "errorType": nok.kind,
        "errorCode": nok.code,
        "errorField": nok.field,
        "records": [],
    }


def _matrix(segment: str) -> tuple[str, dict[str, str]]:
    name, *params = segment.split(";")
    found = {}
    for param in params:
        key, _, value = param.partition("=")
        found[key.strip().lower()] = value
    return name, found


class _Bucket:
    """One client's requests in the quota window and the spike-arrest second."""

    def __init__(self) -> None:
        self.minute: list[float] = []
        self.second: list[float] = []


class InforM3Sandbox(ErpSandbox):
    """The ION API Gateway's OAuth2 and the M3 API over the demo company."""

    name: ClassVar[str] = "infor_m3"
    schema: ClassVar[str] = SCHEMA
    default_config: ClassVar[dict[str, Any]] = {
        "token_lifetime_seconds": 7200,  # [C] a documented example: 2 hours
        "quota_per_minute": 0,  # [C] admin-configured Quota policy; no fixed number published
        "spike_arrest_per_second": 0,  # [C] Throttling policy; 0 = off
        "require_company": True,  # [I]
        "default_division": INFOR_M3_SEED.division,
        "rate_limit_retry_after": False,  # [I] no Retry-After documented
    }

    def __init__(self, state_dir: Path) -> None:
        super().__init__(state_dir)
        self._buckets: dict[str, _Bucket] = {}

    def seed(self) -> None:
        write_seed(self.store, INFOR_M3_SEED)

    def reset(self) -> None:
        """The seeded company again, and every client's quota window emptied."""
        super().reset()
        self._buckets.clear()

    def seed_info(self) -> dict[str, Any]:
        return {**INFOR_M3_SEED.to_json(), "api_root": API_ROOT, "token_path": TOKEN_PATH}

    def routes(self) -> list[BaseRoute]:
        return [
            Route(TOKEN_PATH, self.token, methods=["POST"]),
            Route(REVOKE_PATH, self.revoke, methods=["GET", "POST"]),
            Route(API_ROOT, self.bulk, methods=["POST"]),
            Route(API_ROOT + "/{rest:path}", self.single, methods=["GET"]),
        ]

    # --- OAuth2 ------------------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        form = {k: v[-1] for k, v in parse_qs((await request.body()).decode()).items()}
        if form.get("client_id") != CLIENT_ID or not secrets.compare_digest(
            form.get("client_secret", "").encode(), CLIENT_SECRET.encode()
        ):
            return _oauth_error(401, "invalid_client", "Client authentication failed")
        grant = form.get("grant_type")
        if grant == "password":
            if form.get("username") != SERVICE_KEY or not secrets.compare_digest(
                form.get("password", "").encode(), SERVICE_SECRET.encode()
            ):
                return _oauth_error(400, "invalid_grant", "Invalid service account credentials")
            refresh = secrets.token_urlsafe(24)
        elif grant == "refresh_token":
            refresh = form.get("refresh_token", "")
            rows = self.store.rows(
                "SELECT revoked FROM tokens WHERE refresh = ? ORDER BY rowid DESC LIMIT 1",
                (refresh,),
            )
            if not refresh or not rows or rows[0]["revoked"]:
                return _oauth_error(400, "invalid_grant", "Refresh token is invalid or revoked")
        else:
            return _oauth_error(400, "unsupported_grant_type", f"grant_type {grant!r}")
        lifetime = int(self.config["token_lifetime_seconds"])
        access = secrets.token_urlsafe(32)
        expires = self.clock.now() + timedelta(seconds=lifetime)
        self.store.execute(
            "INSERT INTO tokens (access, refresh, client_id, expires_at) VALUES (?, ?, ?, ?)",
            (access, refresh, CLIENT_ID, expires.isoformat()),
        )
        return JSONResponse(
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": lifetime,
                "refresh_token": refresh,
            }
        )

    async def revoke(self, request: Request) -> Response:
        body = parse_qs((await request.body()).decode())
        token = request.query_params.get("token") or (body.get("token") or [""])[-1]
        self.store.execute(
            "UPDATE tokens SET revoked = 1 WHERE access = ? OR refresh = ? OR refresh = "
            "(SELECT refresh FROM tokens WHERE access = ?)",
            (token, token, token),
        )
        return Response(status_code=200)  # [C RFC 7009] 200 whether or not it was known

    def _bearer(self, request: Request) -> str | Response:
        """The client id of a live bearer token, or the gateway's 401."""
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        rows = self.store.rows("SELECT * FROM tokens WHERE access = ?", (token,)) if token else []
        if not rows:
            return _unauthorized("The access token is missing or invalid")
        row = rows[0]
        if row["revoked"]:
            return _unauthorized("The access token has been revoked")
        if datetime.fromisoformat(row["expires_at"]) <= self.clock.now():
            return _unauthorized("The access token has expired")
        return str(row["client_id"])

    def _throttled(self, client: str) -> bool:
        """The gateway's Quota (per minute) and spike arrest (per second), per client [I]."""
        quota = int(self.config["quota_per_minute"])
        spike = int(self.config["spike_arrest_per_second"])
        if not quota and not spike:
            return False
        bucket = self._buckets.setdefault(client, _Bucket())
        now = time.monotonic()
        bucket.minute = [t for t in bucket.minute if now - t < 60]
        bucket.second = [t for t in bucket.second if now - t < 1]
        if (quota and len(bucket.minute) >= quota) or (spike and len(bucket.second) >= spike):
            return True
        bucket.minute.append(now)
        bucket.second.append(now)
        return False

    # --- M3 ----------------------------------------------------------------------------------

    async def single(self, request: Request) -> Response:
        client = self._bearer(request)
        if isinstance(client, Response):
            return client
        if self._throttled(client):
            return self.answer_rate_limit(request, None)
        segments = [s for s in request.path_params["rest"].split("/") if s]
        if len(segments) != 2:
            return JSONResponse({"error": "expected /{PROGRAM}/{TRANSACTION}"}, status_code=404)
        program, first = _matrix(segments[0])
        transaction, second = _matrix(segments[1])
        options = {**first, **second}
        fields: dict[str, str] = {}
        for key, value in request.query_params.multi_items():
            if key.lower() in OPTIONS and not key.isupper():
                options[key.lower()] = value
            else:
                fields[key] = value
        result = self.run(program, transaction, fields, options)
        return JSONResponse(envelope([result]))

    async def bulk(self, request: Request) -> Response:
        client = self._bearer(request)
        if isinstance(client, Response):
            return client
        if self._throttled(client):
            return self.answer_rate_limit(request, None)
        try:
            body = json.loads(await request.body())
            program = str(body["program"])
            items = list(body["transactions"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": "expected {program, transactions}"}, status_code=400)
        options = {k.lower(): str(v) for k, v in request.query_params.items()}
        for key in ("cono", "divi"):
            if body.get(key) is not None:
                options[key] = str(body[key])
        results = []
        for item in items:
            record = item.get("record") or {} if isinstance(item, dict) else {}
            name = str(item.get("transaction", "")) if isinstance(item, dict) else ""
            results.append(self.run(program, name, dict(record), options))
        return JSONResponse(envelope(results))

    def run(
        self, program: str, transaction: str, fields: dict[str, Any], options: dict[str, str]
    ) -> dict[str, Any]:
        """One transaction: company and division, its fields, then its handler."""
        try:
            with self.store.transaction() as conn:
                cono, divi = self._company(conn, options, fields)
                record = m3.check_fields(program, transaction, fields)
                handler = m3.HANDLERS[(program, transaction)]
                context = m3.Context(conn, cono, divi, self.clock.now().date(), self.period_status)
                records = handler(context, record)
        except m3.Nok as nok:
            return failure(transaction, nok)
        return {"transaction": transaction, "records": _shaped(records, options)}

    def _company(
        self, conn: Any, options: dict[str, str], fields: dict[str, Any]
    ) -> tuple[str, str]:
        cono = options.get("cono", "").strip()
        if not cono:
            if self.config["require_company"]:
                raise m3.Nok("Company must be entered", "CONO", code="XCO0001")
            cono = INFOR_M3_SEED.company
        divi = (
            str(fields.get("DIVI") or "").strip()
            or options.get("divi", "").strip()
            or str(self.config["default_division"])
        )
        known = conn.execute("SELECT divi FROM divisions WHERE cono = ?", (cono,)).fetchall()
        if not known:
            raise m3.Nok(f"Not authorized for company {cono}", "CONO", code="XAU0008")
        if divi not in {row["divi"] for row in known}:
            raise m3.Nok(f"Division {divi} does not exist", "DIVI", code="XDI0001")
        return cono, divi

    # --- the admin side ----------------------------------------------------------------------

    def documents(self) -> list[dict[str, Any]]:
        """Every invoice batch (validated or not) with its lines, then every payment."""
        result: list[dict[str, Any]] = []
        for b in self.store.rows("SELECT * FROM batches ORDER BY inbn"):
            lines = [
                dict(x)
                for x in self.store.rows(
                    "SELECT * FROM lines WHERE inbn = ? ORDER BY trno", (b["inbn"],)
                )
            ]
            net = sum((Decimal(x["nlam"]) for x in lines), Decimal(0))
            result.append(
                {
                    "type": "invoice_batch",
                    "DIVI": b["divi"],
                    "INBN": b["inbn"],
                    "SUNO": b["suno"],
                    "SINO": b["sino"],
                    "CORI": b["cori"],
                    "SUPA": b["supa"],
                    "VONO": b["vono"],
                    "ACDT": b["acdt"],
                    "IVDT": b["ivdt"],
                    "CUCD": b["cucd"],
                    "CUAM": b["cuam"],
                    "VTAM": b["vtam"],
                    "paid": b["paid"],
                    "approved": bool(b["approved"]),
                    "lines": lines,
                    "debits": str(abs(net + Decimal(b["vtam"]))),
                    "credits": str(abs(Decimal(b["cuam"]))),
                }
            )
        for p in self.store.rows("SELECT * FROM proposals ORDER BY prpn, pyon"):
            paid = self.store.rows(
                "SELECT l.inbn, l.pyam, b.divi, b.suno, b.sino FROM proposal_lines l "
                "JOIN batches b ON b.inbn = l.inbn WHERE prpn = ? AND pyon = ?",
                (p["prpn"], p["pyon"]),
            )
            result.append({"type": "payment", **dict(p), "lines": [dict(x) for x in paid]})
        return result

    # --- fault answers in the gateway's and M3's dialect -------------------------------------

    def answer_rate_limit(self, request: Request, retry_after: float | None) -> Response:
        headers = {}
        if retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
        return JSONResponse(
            {"error": "Too Many Requests", "message": "API quota or rate limit exceeded"},
            status_code=429,
            headers=headers,
        )

    def answer_expire_session(self, request: Request, fault: Fault) -> Response:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            self.store.execute(
                "UPDATE tokens SET expires_at = ? WHERE access = ?",
                (self.clock.now().isoformat(), header[7:].strip()),
            )
        return _unauthorized("The access token has expired")

    def answer_auth_fail(self, request: Request, fault: Fault) -> Response:
        return _oauth_error(401, "invalid_client", "Client authentication failed")

    def answer_validation(self, request: Request, fault: Fault) -> Response:
        message = fault.message or "Supplier is blocked for invoicing"
        if request.method == "POST":
            return _BulkRefusal(message)
        name = request.url.path.rstrip("/").rsplit("/", 1)[-1].split(";")[0]
        return JSONResponse(envelope([failure(name, m3.Nok(message, "SUNO"))]))

    def answer_server_error(self, request: Request, status: int) -> Response:
        return JSONResponse(
            {
                "error": "Internal Server Error",
                "status": status,
                "message": "The ION API Gateway could not reach the backend",
            },
            status_code=status,
        )


class _BulkRefusal(Response):
    """A bulk request refused before anything ran: one failed result per transaction sent."""

    def __init__(self, message: str) -> None:
        super().__init__(status_code=200)
        self.message = message

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            part = await receive()
            body += part.get("body", b"")
            if not part.get("more_body"):
                break
        try:
            items = [i for i in json.loads(body)["transactions"] if isinstance(i, dict)]
        except (ValueError, KeyError, TypeError):
            items = []
        names = [str(i.get("transaction", "")) for i in items] or ["execute"]
        results = [failure(name, m3.Nok(self.message, "")) for name in names]
        await JSONResponse(envelope(results))(scope, receive, send)


def _shaped(records: list[dict[str, str]], options: dict[str, str]) -> list[dict[str, str]]:
    """`maxrecs` (0 = all) and `returncols` applied to a transaction's records."""
    try:
        limit = int(options.get("maxrecs", DEFAULT_MAXRECS))
    except ValueError:
        limit = DEFAULT_MAXRECS
    if limit > 0:
        records = records[:limit]
    columns = [c for c in options.get("returncols", "").split(",") if c]
    if columns:
        records = [{c: r.get(c, "") for c in columns} for r in records]
    return records


def _oauth_error(status: int, error: str, description: str) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _unauthorized(message: str) -> Response:
    return JSONResponse(
        {"error": "invalid_token", "error_description": message},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def create_app(state_dir: Path) -> Starlette:
    """The Infor M3 sandbox app over `state_dir` (the runner's `module:factory`)."""
    return build_app(InforM3Sandbox(state_dir))


APP_FACTORY = "bridge_pipelines.sandbox.infor_m3.app:create_app"
