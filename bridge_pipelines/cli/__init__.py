"""`bridge`: the operator's command line. Each command group lives in its own module."""

import click

from bridge_pipelines.cli import (
    demo,
    files,
    find,
    ops,
    review,
    sandbox,
    secrets,
    tenants,
    verify,
    workspace,
)
from bridge_pipelines.cli import export as partner_export
from bridge_pipelines.cli.errors import BridgeGroup
from bridge_pipelines.redaction import install_redaction


@click.group(cls=BridgeGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """bridge_pipelines: Stampli SFTP exports into ERPs, exactly once."""
    install_redaction()


main.add_command(tenants.group)
main.add_command(secrets.group)
main.add_command(sandbox.group)
main.add_command(demo.demo)
main.add_command(review.group)
main.add_command(review.replay)
main.add_command(verify.verify)
main.add_command(files.group)
main.add_command(find.find)
main.add_command(workspace.workspace)
for _command in ops.commands:
    main.add_command(_command)
for _command in partner_export.commands:
    main.add_command(_command)
