"""`bridge secrets ...`."""

import click


@click.group(name="secrets")
def group() -> None:
    """secrets commands."""
