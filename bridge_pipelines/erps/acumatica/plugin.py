"""Acumatica's descriptor: what the registry, redaction, the demo and the tests know."""

from bridge_pipelines.erps.acumatica.settings import AcumaticaErpSettings
from bridge_pipelines.erps.plugin import ErpPlugin
from bridge_pipelines.redaction import MASK

PLUGIN = ErpPlugin(
    kind="acumatica",
    display_name="Acumatica",
    settings_model=AcumaticaErpSettings,
    adapter_factory="bridge_pipelines.erps.acumatica.adapter:build_adapter",
    log_patterns=(
        # Cookie: .ASPXAUTH=...; ASP.NET_SessionId=...
        (
            r"""(?i)((?:\.ASPXAUTH|ASP\.NET_SessionId)["']?\s*[=:]\s*["']?)[^;"'\s,}]+""",
            rf"\g<1>{MASK}",
        ),
        # OAuth answers and form bodies: "access_token": "...", refresh_token=...
        (
            r"""(?i)(["']?(?:access_token|refresh_token|client_secret)["']?\s*[=:]\s*["']?)"""
            r"""[^&"'\s,}]+""",
            rf"\g<1>{MASK}",
        ),
        # Authorization: Bearer ...
        (r"(?i)(\bBearer\s+)[A-Za-z0-9._~+/=-]+", rf"\g<1>{MASK}"),
    ),
    sandbox="bridge_pipelines.sandbox.acumatica.profile:PROFILE",
)
