"""Infor CloudSuite (M3)'s descriptor: what the registry, redaction, the demo and the tests know."""

from bridge_pipelines.erps.infor_m3.settings import InforM3ErpSettings
from bridge_pipelines.erps.plugin import ErpPlugin
from bridge_pipelines.redaction import MASK

PLUGIN = ErpPlugin(
    kind="infor_m3",
    display_name="Infor CloudSuite (M3)",
    short_name="Infor M3",
    settings_model=InforM3ErpSettings,
    adapter_factory="bridge_pipelines.erps.infor_m3.adapter:build_adapter",
    log_patterns=(
        # Authorization: Bearer <access token>
        (r"""(?i)(\bBearer\s+)[A-Za-z0-9._~+/=-]+""", rf"\g<1>{MASK}"),
        # OAuth2 answers and forms: "access_token": "...", refresh_token=...
        (
            r"""(?i)(["']?(?:access_token|refresh_token)["']?\s*[=:]\s*["']?)[^"'&\s,}]+""",
            rf"\g<1>{MASK}",
        ),
        # client_secret=... / password=... in a token request form
        (r"""(?i)(\b(?:client_secret|password)=)[^&\s"',]+""", rf"\g<1>{MASK}"),
        # the .ionapi file's secrets: "cs": "...", "sask": "..."
        (r"""(?i)(["'](?:cs|sask)["']\s*:\s*["'])[^"']+""", rf"\g<1>{MASK}"),
    ),
    sandbox="bridge_pipelines.sandbox.infor_m3.profile:PROFILE",
)
