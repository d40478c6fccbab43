"""Throwaway Books' descriptor: all the registry, redaction and the harnesses know of it."""

from bridge_pipelines.erps.plugin import ErpPlugin
from bridge_pipelines.redaction import MASK
from bridge_pipelines_tests.erps.throwaway.settings import ThrowawayErpSettings

SESSION_TOKEN = r"\btws_[0-9a-f]{32}\b"
"""The shape of a session token (`tws_` + 32 hex): masked wherever it is logged."""

PLUGIN = ErpPlugin(
    kind="throwaway",
    display_name="Throwaway Books",
    settings_model=ThrowawayErpSettings,
    adapter_factory="bridge_pipelines_tests.erps.throwaway.adapter:build_adapter",
    log_patterns=((SESSION_TOKEN, MASK),),
    sandbox="bridge_pipelines_tests.erps.throwaway.profile:PROFILE",
)
