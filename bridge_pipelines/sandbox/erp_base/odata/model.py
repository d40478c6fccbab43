"""Entity definitions: the one source of truth for validation, `$metadata` and the service document.

A sandbox describes each entity set once (`EntitySetDef`: name, entity type with key and typed
properties, complex collections such as document lines, navigation properties, what the set
allows); `ServiceModel` gathers them for one service. A model can be built lazily from the
sandbox's own registry (a dict other modules add to), so an entity set defined in another
module joins `$metadata` without editing this one.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

EDM_STRING = "Edm.String"
EDM_INT32 = "Edm.Int32"
EDM_INT64 = "Edm.Int64"
EDM_DECIMAL = "Edm.Decimal"
EDM_DOUBLE = "Edm.Double"
EDM_BOOLEAN = "Edm.Boolean"
EDM_DATE = "Edm.Date"
EDM_DATETIME = "Edm.DateTimeOffset"


@dataclass(frozen=True)
class Prop:
    """One structural property: `computed` ones are assigned by the service (read-only)."""

    name: str
    type: str = EDM_STRING
    nullable: bool = True
    computed: bool = False
    max_length: int | None = None


@dataclass(frozen=True)
class ComplexType:
    """A structured value without a key (a document line, an address)."""

    name: str
    properties: tuple[Prop, ...]

    @property
    def names(self) -> frozenset[str]:
        return frozenset(p.name for p in self.properties)


@dataclass(frozen=True)
class Navigation:
    """A navigation property to another entity type; `collection` for to-many."""

    name: str
    target: str  # entity type name
    collection: bool = False
    # For to-one: local property -> target key property (the referential constraint).
    constraint: tuple[str, str] | None = None


@dataclass(frozen=True)
class EntityType:
    """An entity type: key, typed properties, complex collections, navigation properties."""

    name: str
    key: tuple[str, ...]
    properties: tuple[Prop, ...]
    collections: Mapping[str, ComplexType] = field(default_factory=dict)
    navigations: tuple[Navigation, ...] = ()

    @property
    def property_names(self) -> frozenset[str]:
        """Every property a client may name: structural ones and complex collections."""
        return frozenset(p.name for p in self.properties) | frozenset(self.collections)

    @property
    def scalar_names(self) -> frozenset[str]:
        return frozenset(p.name for p in self.properties)

    @property
    def computed_names(self) -> frozenset[str]:
        return frozenset(p.name for p in self.properties if p.computed)

    def prop(self, name: str) -> Prop | None:
        return next((p for p in self.properties if p.name == name), None)

    def navigation(self, name: str) -> Navigation | None:
        return next((n for n in self.navigations if n.name == name), None)


@dataclass(frozen=True)
class EntitySetDef:
    """An entity set: its type and the operations the real service allows on it."""

    name: str
    type: EntityType
    insertable: bool = False
    updatable: bool = False
    deletable: bool = False
    etag: bool = False
    # Bound actions (`Cancel`, `Close`) the set's entities accept.
    actions: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServiceModel:
    """One OData service's entity sets under a schema namespace."""

    namespace: str
    container: str
    entity_sets: tuple[EntitySetDef, ...]

    def entity_set(self, name: str) -> EntitySetDef | None:
        return next((s for s in self.entity_sets if s.name == name), None)

    def entity_types(self) -> list[EntityType]:
        """Each entity type once, in the order the sets name them."""
        seen: dict[str, EntityType] = {}
        for entity_set in self.entity_sets:
            seen.setdefault(entity_set.type.name, entity_set.type)
        return list(seen.values())

    def complex_types(self) -> list[ComplexType]:
        seen: dict[str, ComplexType] = {}
        for entity_type in self.entity_types():
            for complex_type in entity_type.collections.values():
                seen.setdefault(complex_type.name, complex_type)
        return list(seen.values())


def props(names: Iterable[str], types: Mapping[str, str] | None = None, *,
          computed: Iterable[str] = (), keys: Iterable[str] = ()) -> tuple[Prop, ...]:  # fmt: skip
    """Properties from names, typed from `types` (default Edm.String); keys are not nullable."""
    types = types or {}
    computed_set, key_set = set(computed), set(keys)
    return tuple(
        Prop(n, types.get(n, EDM_STRING), nullable=n not in key_set, computed=n in computed_set)
        for n in names
    )
