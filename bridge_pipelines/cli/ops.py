"""Operator commands: `ping`, `status`."""

import click

commands: list[click.Command] = []
