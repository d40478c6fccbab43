"""What `workspace.yaml` loads: every tenant file in `BRIDGE_TENANTS_DIR`."""

from bridge_pipelines.defs import build_defs

defs = build_defs()
