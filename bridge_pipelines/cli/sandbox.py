"""`bridge sandbox ...`."""

import click


@click.group(name="sandbox")
def group() -> None:
    """sandbox commands."""
