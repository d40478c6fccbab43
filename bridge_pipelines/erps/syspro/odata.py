"""Read-only SYSPRO OData v4: master data pages, basic auth, `@odata.nextLink` followed.

The OData service is the cheap way to read whole tables (no e.net session, no licence seat).
Every page is one bounded GET with backoff on transient failures; a `nextLink` is followed only
while it stays on the service's own scheme, host and port, so the operator's credentials are
never sent elsewhere. Numbers are parsed as `Decimal` (never float).
"""

import json
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

import httpx

from bridge_pipelines.erps.http import RequestLimiter, TransientError, with_backoff
from bridge_pipelines.erps.syspro.client import SysproSettings, fetch
from bridge_pipelines.errors import ConfigError

MAX_PAGES = 100_000


class ODataReader:
    """Reads entity sets of one SYSPRO OData service with the operator's basic auth."""

    def __init__(
        self, http: httpx.Client, settings: SysproSettings, pacer: RequestLimiter | None = None
    ) -> None:
        assert settings.odata_url is not None
        self._http = http
        self._pacer = pacer
        self._settings = settings
        self._root = httpx.URL(settings.odata_url)
        self._auth = httpx.BasicAuth(settings.operator, settings.password.get_secret_value())

    def _same_service(self, url: httpx.URL) -> bool:
        return (url.scheme, url.host, url.port) == (
            self._root.scheme,
            self._root.host,
            self._root.port,
        ) and url.path.startswith(self._root.path)

    def _page(self, url: str, params: Mapping[str, str] | None, what: str) -> dict[str, Any]:
        def once() -> dict[str, Any]:
            answer = fetch(
                self._http,
                url,
                params,
                self._settings,
                kind="read",
                what=what,
                auth=self._auth,
                pacer=self._pacer,
            )
            try:
                page = json.loads(answer.text, parse_float=Decimal)
            except ValueError:
                raise TransientError(f"SYSPRO OData {what}: the answer is not JSON") from None
            if not isinstance(page, dict) or not isinstance(page.get("value"), list):
                raise TransientError(f"SYSPRO OData {what}: the answer has no 'value' list")
            return page

        return with_backoff(self._settings, once)

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
        url: str | None = f"{self._settings.odata_url}/{entity_set}"
        query: Mapping[str, str] | None = params
        for _ in range(MAX_PAGES):
            if url is None:
                return
            page = self._page(url, query, entity_set)
            yield from page["value"]
            link = page.get("@odata.nextLink")
            if not link:
                return
            following = httpx.URL(f"{self._root}/").join(str(link))
            if not self._same_service(following):
                raise ConfigError(
                    f"SYSPRO OData {entity_set}: nextLink leaves the service; not followed"
                )
            url, query = str(following), None
        raise ConfigError(f"SYSPRO OData {entity_set}: more than {MAX_PAGES} pages; refusing")
