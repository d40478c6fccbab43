"""The Service Layer's OData model, generated from `documents.ENTITY_SETS` at request time.

`ENTITY_SETS` is what validation reads (known properties, read-only ones, lines), so the same
definitions give `$metadata` and the service document; a set another module adds to
`ENTITY_SETS` (and `CREATORS`) appears in both without an edit here. Property types come from
`PROPERTY_TYPES` by name (B1 names a property the same in every object); a name not listed is
`Edm.String`. Entity types keep B1's names (`SAPB1.Document` for every marketing document,
`SAPB1.BusinessPartner`), under the schema namespace `SAPB1` and container `ServiceLayer`
[I: the names B1's own metadata uses, e.g. `SAPB1.BoYesNoEnum` in filters].
"""

from collections.abc import Mapping

from bridge_pipelines.sandbox.erp_base.odata.model import (
    EDM_DATE,
    EDM_DOUBLE,
    EDM_INT32,
    ComplexType,
    EntitySetDef,
    EntityType,
    Navigation,
    Prop,
    ServiceModel,
)
from bridge_pipelines.sandbox.sap_b1.documents import ENTITY_SETS, EntitySet

NAMESPACE = "SAPB1"
CONTAINER = "ServiceLayer"

_INT = ("DocEntry", "DocNum", "Series", "LineNum", "BaseType", "BaseEntry", "BaseLine", "JdtNum",
        "Line_ID", "TransactionCode", "GroupCode", "PayTermsGrpCode", "InWhichDimension",
        "PaymentGroupCode", "SalesPersonCode", "DocumentsOwner", "RowNum", "InternalCode",
        "DocNumber", "DocTime")  # fmt: skip
_MONEY = ("DocTotal", "VatSum", "LineTotal", "Price", "UnitPrice", "Debit", "Credit", "FCDebit",
          "FCCredit", "DocTotalFc", "DocTotalSys", "PaidToDate", "TotalDiscount", "CreditLimit",
          "CurrentAccountBalance", "OpenDeliveryNotesBalance", "OpenOrdersBalance", "CashSum",
          "TransferSum", "SumApplied")  # fmt: skip
_DATES = ("DocDate", "DocDueDate", "TaxDate", "ReferenceDate", "DueDate", "ValidFrom", "ValidTo",
          "CreationDate", "UpdateDate", "CancelDate", "TransferDate")  # fmt: skip

PROPERTY_TYPES: dict[str, str] = {
    **dict.fromkeys(_INT, EDM_INT32),
    **dict.fromkeys(_MONEY, EDM_DOUBLE),
    **dict.fromkeys(_DATES, EDM_DATE),
    "Quantity": EDM_DOUBLE,
    "DocRate": EDM_DOUBLE,
    "DiscountPercent": EDM_DOUBLE,
}
# [I] the properties B1 assigns on create, per entity type, marked Computed so generic clients
# leave them out of a create.
_COMPUTED: Mapping[str, frozenset[str]] = {
    "Document": frozenset({"DocEntry", "DocNum", "CardName", "DocTotal", "VatSum", "Cancelled",
                           "DocumentStatus"}),
    "JournalEntry": frozenset({"JdtNum"}),
}  # fmt: skip
# Document -> the partner it names: `$expand=BusinessPartner` [I: B1 v2 navigation].
_NAVIGATIONS: Mapping[str, tuple[Navigation, ...]] = {
    "Document": (
        Navigation("BusinessPartner", "BusinessPartner", constraint=("CardCode", "CardCode")),
    )
}


def _props(
    names: frozenset[str], key: str, computed: frozenset[str], types: Mapping[str, str]
) -> tuple[Prop, ...]:
    return tuple(
        Prop(
            name,
            types.get(name, PROPERTY_TYPES.get(name, "Edm.String")),
            nullable=name != key,
            computed=name in computed,
        )
        for name in sorted(names, key=lambda n: (n != key, n))
    )


def entity_type(entity: EntitySet) -> EntityType:
    """The OData entity type of one B1 entity set."""
    collections = {
        name: ComplexType(type_name, _props(allowed, "", frozenset(), {}))
        for name, (type_name, allowed) in entity.collection_properties().items()
    }
    scalars = entity.properties - set(collections)
    return EntityType(
        name=entity.type_name,
        key=(entity.key,),
        properties=_props(
            scalars, entity.key, entity.read_only | _COMPUTED.get(entity.type_name, frozenset()), {}
        ),
        collections=collections,
        navigations=_NAVIGATIONS.get(entity.type_name, ()),
    )


def service_model(entity_sets: Mapping[str, EntitySet] | None = None) -> ServiceModel:
    """The model of every entity set registered now (`ENTITY_SETS` unless given)."""
    sets = entity_sets if entity_sets is not None else ENTITY_SETS
    return ServiceModel(
        namespace=NAMESPACE,
        container=CONTAINER,
        entity_sets=tuple(
            EntitySetDef(
                name=entity.name,
                type=entity_type(entity),
                insertable=entity.writable,
                updatable=entity.writable,
                deletable=entity.deletable,
                etag=entity.etag,
                actions=entity.actions,
            )
            for entity in sets.values()
        ),
    )
