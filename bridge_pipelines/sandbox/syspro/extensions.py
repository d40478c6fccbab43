"""A small registration hook for entity sets added beside the core sandbox.

Modules that serve more of SYSPRO's tables (the partner exports' GL journal lines, purchase
orders and AP invoice lines) register their schema, their seed and an OData handler here, so
they live in their own modules and the core files only ask this registry.
"""

from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from bridge_pipelines.sandbox.erp_base.store import StateStore


@dataclass(frozen=True)
class EntitySetExtension:
    """Entity sets served by one module: schema, seed and the handler of their GETs."""

    schema: str
    seed: Callable[[StateStore], None]
    entity_sets: tuple[str, ...]
    handler: Callable[[StateStore, Request, str, int], Response]


EXTENSIONS: list[EntitySetExtension] = []


def register(extension: EntitySetExtension) -> None:
    """Add `extension` (once; registering the same object twice is a no-op)."""
    if extension not in EXTENSIONS:
        EXTENSIONS.append(extension)


def schema() -> str:
    """The SQL of every registered extension, after the core schema."""
    return "".join(extension.schema for extension in EXTENSIONS)


def handler_for(entity_set: str) -> EntitySetExtension | None:
    """The extension that serves `entity_set`, if one does."""
    return next((e for e in EXTENSIONS if entity_set in e.entity_sets), None)


def entity_sets() -> list[str]:
    """Every entity set the extensions serve."""
    return [name for extension in EXTENSIONS for name in extension.entity_sets]
