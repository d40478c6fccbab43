"""`bridge demo`: the product on its embedded sandboxes."""

import click


@click.command()
@click.option("--once", is_flag=True, help="Run one headless cycle, print a summary, exit.")
def demo(once: bool) -> None:
    """Run the demo."""
    raise click.ClickException("not yet")
