"""What `workspace.yaml` loads: every tenant file in `BRIDGE_TENANTS_DIR`."""

from bridge_pipelines.defs import build_defs
from bridge_pipelines.redaction import install_redaction

install_redaction()

defs = build_defs()
