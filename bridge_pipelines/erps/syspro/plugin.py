"""SYSPRO's descriptor: what the registry, redaction, the demo and the tests know of it."""

from bridge_pipelines.erps.plugin import ErpPlugin
from bridge_pipelines.erps.syspro.settings import SysproErpSettings
from bridge_pipelines.redaction import MASK

PLUGIN = ErpPlugin(
    kind="syspro",
    display_name="SYSPRO",
    settings_model=SysproErpSettings,
    adapter_factory="bridge_pipelines.erps.syspro.adapter:build_adapter",
    log_patterns=(
        # e.net session GUIDs travel as ?UserId=<guid>: a session is a credential while it lives
        (r"""(?i)(\bUserId=)[^&\s"',;]+""", rf"\g<1>{MASK}"),
    ),
    sandbox="bridge_pipelines.sandbox.syspro.profile:PROFILE",
)
