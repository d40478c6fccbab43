"""SAP Business One's descriptor: what the registry, redaction, the demo and the tests know."""

from bridge_pipelines.erps.plugin import ErpPlugin
from bridge_pipelines.erps.sap_b1.settings import SapB1ErpSettings
from bridge_pipelines.redaction import MASK

PLUGIN = ErpPlugin(
    kind="sap_b1",
    display_name="SAP Business One",
    short_name="SAP B1",
    settings_model=SapB1ErpSettings,
    adapter_factory="bridge_pipelines.erps.sap_b1.adapter:build_adapter",
    log_patterns=(
        # Cookie: B1SESSION=...; and B1SESSION in a cookie jar repr
        (r"""(?i)(\bB1SESSION["']?\s*[=:]\s*["']?)[^;"'\s,}]+""", rf"\g<1>{MASK}"),
        # The Login answer {"SessionId": "..."}: the same value as the B1SESSION cookie
        (r"""(?i)(["']SessionId["']\s*:\s*["'])[^"']+""", rf"\g<1>{MASK}"),
    ),
    sandbox="bridge_pipelines.sandbox.sap_b1.profile:PROFILE",
)
