"""`bridge tenants ...`."""

import click


@click.group(name="tenants")
def group() -> None:
    """tenants commands."""
