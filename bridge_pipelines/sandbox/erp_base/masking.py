"""Secrets masked in the request log: passwords, session ids and Authorization headers."""

import urllib.parse

MASK = "***"
SECRET_PARAMS = frozenset(
    {"operatorpassword", "companypassword", "password", "userpassword", "client_secret"}
)
SESSION_PARAMS = frozenset({"userid", "sessionid"})
SECRET_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization"})


def mask_query(query: str) -> str:
    """The query string with secret values replaced; session ids keep their last 4 chars."""
    if not query:
        return query
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    masked = []
    for name, value in pairs:
        lowered = name.lower()
        shown = value
        if lowered in SECRET_PARAMS and value:
            shown = MASK
        elif lowered in SESSION_PARAMS and value:
            shown = MASK + value.strip().strip('"')[-4:]
        masked.append((name, shown))
    return urllib.parse.urlencode(masked, safe="*")


def mask_headers(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Request headers as a dict, secret ones masked (the scheme of Authorization kept)."""
    result: dict[str, str] = {}
    for raw_name, raw_value in headers:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name in SECRET_HEADERS:
            scheme = value.split(" ", 1)[0] if name.endswith("authorization") else ""
            value = f"{scheme} {MASK}".strip()
        result[name] = value
    return result
