"""Shared fixtures. Fixtures of a tier live in `support/` and are registered here."""

pytest_plugins = [
    "bridge_pipelines_tests.support.services",
    "bridge_pipelines_tests.support.sshd",
    "bridge_pipelines_tests.support.postgres",
    "bridge_pipelines_tests.unit.tenants.fixtures",
    "bridge_pipelines_tests.support.erp_sandboxes",
]
