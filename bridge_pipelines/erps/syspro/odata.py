"""Read-only SYSPRO OData v4: master data pages, basic auth, `@odata.nextLink` followed.

The OData service is the cheap way to read whole tables (no e.net session, no licence seat).
Every page is one bounded GET with backoff on transient failures; a `nextLink` is followed only
while it stays on the service's own scheme, host and port, so the operator's credentials are
never sent elsewhere. Numbers are parsed as `Decimal` (never float).
"""

import json
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar

import httpx

from bridge_pipelines.erps.http import RequestLimiter, TransientError
from bridge_pipelines.erps.session import Answer, CallKind, HttpChannel, follow_pages
from bridge_pipelines.erps.syspro import errors
from bridge_pipelines.erps.syspro.client import SysproSettings
from bridge_pipelines.errors import BridgeError, ConfigError


class ODataReader(HttpChannel):
    """Reads entity sets of one SYSPRO OData service with the operator's basic auth."""

    erp_name: ClassVar[str] = "SYSPRO"
    settings: SysproSettings

    def __init__(
        self, http: httpx.Client, settings: SysproSettings, pacer: RequestLimiter | None = None
    ) -> None:
        assert settings.odata_url is not None
        super().__init__(settings, http, pacer)
        self._root = httpx.URL(settings.odata_url + "/")
        self._auth = httpx.BasicAuth(settings.operator, settings.password.get_secret_value())

    def refusal(self, answer: Answer, kind: CallKind, what: str) -> BridgeError:
        """401/403 (operator not enabled for OData), 404, 405: configuration, not data."""
        if answer.status in (401, 403, 404, 405):
            return ConfigError(
                f"SYSPRO {what}: HTTP {answer.status} ({errors.quote(answer.text)}); check the URL"
            )
        return errors.rejected(what, [f"HTTP {answer.status}: {answer.text}"], answer.text)

    def _page(self, url: str, params: Mapping[str, str] | None, what: str) -> dict[str, Any]:
        def once() -> dict[str, Any]:
            answer = self.exchange(
                "GET", url, kind="read", what=what, params=params, auth=self._auth
            )
            try:
                page = json.loads(answer.text, parse_float=Decimal)
            except ValueError:
                raise TransientError(f"SYSPRO OData {what}: the answer is not JSON") from None
            if not isinstance(page, dict) or not isinstance(page.get("value"), list):
                raise TransientError(f"SYSPRO OData {what}: the answer has no 'value' list")
            return page

        return self.retrying(once)

    def entities(
        self, entity_set: str, *, select: Sequence[str] = (), filter: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every entity of `entity_set` (optionally `$select`ed and `$filter`ed), page by page.

        Raises:
            ConfigError: 401/403 (operator not enabled for OData, wrong password), 404, or a
                nextLink that leaves the service.
            RetryableError: the service stayed unavailable within the retry budget.
        """
        params: dict[str, str] = {}
        if select:
            params["$select"] = ",".join(select)
        if filter:
            params["$filter"] = filter
        yield from follow_pages(
            f"{self.settings.odata_url}/{entity_set}",
            params,
            lambda url, query: self._page(url, query, entity_set),
            self._root,
            f"SYSPRO OData {entity_set}",
        )
