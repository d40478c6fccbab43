"""`$metadata` (CSDL XML) and the service document, generated from a `ServiceModel`.

OData v4 services get CSDL 4.0 (`edmx:Edmx Version="4.0"`, OASIS namespaces): computed
properties carry `Org.OData.Core.V1.Computed` (generic clients then leave them out of a
create), sets that require ETags `Org.OData.Core.V1.OptimisticConcurrency`, and what a set
allows `Org.OData.Capabilities.V1.{Insert,Update,Delete}Restrictions`. OData v3 services (SAP
B1's `/b1s/v1`) get EDMX 1.0 with `DataServiceVersion="3.0"`: the same types and sets, with
`Edm.Date` written as v3's `Edm.DateTime`, and without navigation properties (v3 needs
associations, which no v3 client of ours reads).
"""

from typing import Any
from xml.etree import ElementTree as ET

from bridge_pipelines.sandbox.erp_base.odata.model import (
    EDM_DATE,
    EDM_DATETIME,
    ComplexType,
    EntitySetDef,
    EntityType,
    Prop,
    ServiceModel,
)

V4_EDMX = "http://docs.oasis-open.org/odata/ns/edmx"
V4_EDM = "http://docs.oasis-open.org/odata/ns/edm"
V3_EDMX = "http://schemas.microsoft.com/ado/2007/06/edmx"
V3_EDM = "http://schemas.microsoft.com/ado/2009/11/edm"
V3_META = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
METADATA_CONTENT_TYPE = "application/xml"
_V3_TYPES = {EDM_DATE: "Edm.DateTime", EDM_DATETIME: "Edm.DateTime"}


def _property(parent: ET.Element, prop: Prop, v4: bool) -> None:
    type_name = prop.type if v4 else _V3_TYPES.get(prop.type, prop.type)
    attrs = {"Name": prop.name, "Type": type_name}
    if not prop.nullable:
        attrs["Nullable"] = "false"
    if prop.max_length:
        attrs["MaxLength"] = str(prop.max_length)
    element = ET.SubElement(parent, "Property", attrs)
    if prop.computed and v4:
        ET.SubElement(element, "Annotation", {"Term": "Org.OData.Core.V1.Computed", "Bool": "true"})


def _complex(schema: ET.Element, complex_type: ComplexType, v4: bool) -> None:
    element = ET.SubElement(schema, "ComplexType", {"Name": complex_type.name})
    for prop in complex_type.properties:
        _property(element, prop, v4)


def _entity(schema: ET.Element, namespace: str, entity_type: EntityType, v4: bool) -> None:
    element = ET.SubElement(schema, "EntityType", {"Name": entity_type.name})
    key = ET.SubElement(element, "Key")
    for name in entity_type.key:
        ET.SubElement(key, "PropertyRef", {"Name": name})
    for prop in entity_type.properties:
        _property(element, prop, v4)
    for name, complex_type in entity_type.collections.items():
        ET.SubElement(
            element,
            "Property",
            {"Name": name, "Type": f"Collection({namespace}.{complex_type.name})"},
        )
    if not v4:
        return
    for nav in entity_type.navigations:
        target = f"{namespace}.{nav.target}"
        nav_element = ET.SubElement(
            element,
            "NavigationProperty",
            {"Name": nav.name, "Type": f"Collection({target})" if nav.collection else target},
        )
        if nav.constraint:
            ET.SubElement(
                nav_element,
                "ReferentialConstraint",
                {"Property": nav.constraint[0], "ReferencedProperty": nav.constraint[1]},
            )


def _restriction(parent: ET.Element, term: str, field: str, allowed: bool) -> None:
    annotation = ET.SubElement(parent, "Annotation", {"Term": f"Org.OData.Capabilities.V1.{term}"})
    record = ET.SubElement(annotation, "Record")
    ET.SubElement(record, "PropertyValue", {"Property": field, "Bool": str(allowed).lower()})


def _entity_set(
    container: ET.Element, namespace: str, entity_set: EntitySetDef, model: ServiceModel, v4: bool
) -> None:
    element = ET.SubElement(
        container,
        "EntitySet",
        {"Name": entity_set.name, "EntityType": f"{namespace}.{entity_set.type.name}"},
    )
    if not v4:
        return
    for nav in entity_set.type.navigations:
        target = next((s.name for s in model.entity_sets if s.type.name == nav.target), None)
        if target:
            ET.SubElement(
                element, "NavigationPropertyBinding", {"Path": nav.name, "Target": target}
            )
    _restriction(element, "InsertRestrictions", "Insertable", entity_set.insertable)
    _restriction(element, "UpdateRestrictions", "Updatable", entity_set.updatable)
    _restriction(element, "DeleteRestrictions", "Deletable", entity_set.deletable)
    if entity_set.etag:
        annotation = ET.SubElement(
            element, "Annotation", {"Term": "Org.OData.Core.V1.OptimisticConcurrency"}
        )
        ET.SubElement(annotation, "Collection")


def _actions(schema: ET.Element, model: ServiceModel) -> None:
    bound: dict[tuple[str, str], None] = {}
    for entity_set in model.entity_sets:
        for action in entity_set.actions:
            bound.setdefault((action, entity_set.type.name), None)
    for action, type_name in bound:
        element = ET.SubElement(schema, "Action", {"Name": action, "IsBound": "true"})
        ET.SubElement(
            element,
            "Parameter",
            {"Name": "bindingParameter", "Type": f"{model.namespace}.{type_name}"},
        )


def metadata_document(model: ServiceModel, odata_version: str = "4.0") -> bytes:
    """The service's `$metadata` as CSDL XML, for OData `4.0` or `3.0`."""
    v4 = odata_version.startswith("4")
    if v4:
        ET.register_namespace("edmx", V4_EDMX)
        root = ET.Element(f"{{{V4_EDMX}}}Edmx", {"Version": "4.0"})
        services = ET.SubElement(root, f"{{{V4_EDMX}}}DataServices")
        schema = ET.SubElement(services, "Schema", {"Namespace": model.namespace, "xmlns": V4_EDM})
    else:
        ET.register_namespace("edmx", V3_EDMX)
        ET.register_namespace("m", V3_META)
        root = ET.Element(f"{{{V3_EDMX}}}Edmx", {"Version": "1.0"})
        services = ET.SubElement(
            root,
            f"{{{V3_EDMX}}}DataServices",
            {f"{{{V3_META}}}DataServiceVersion": "3.0",
             f"{{{V3_META}}}MaxDataServiceVersion": "3.0"},
        )  # fmt: skip
        schema = ET.SubElement(services, "Schema", {"Namespace": model.namespace, "xmlns": V3_EDM})
    for complex_type in model.complex_types():
        _complex(schema, complex_type, v4)
    for entity_type in model.entity_types():
        _entity(schema, model.namespace, entity_type, v4)
    if v4:
        _actions(schema, model)
    container_attrs = {"Name": model.container}
    if not v4:
        container_attrs[f"{{{V3_META}}}IsDefaultEntityContainer"] = "true"
    container = ET.SubElement(schema, "EntityContainer", container_attrs)
    for entity_set in model.entity_sets:
        _entity_set(container, model.namespace, entity_set, model, v4)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def service_document(
    model: ServiceModel, service_root: str, odata_version: str = "4.0"
) -> dict[str, Any]:
    """The service document (JSON): every entity set with its URL relative to the root."""
    metadata = f"{service_root.rstrip('/')}/$metadata"
    sets = [{"name": s.name, "kind": "EntitySet", "url": s.name} for s in model.entity_sets]
    if odata_version.startswith("4"):
        return {"@odata.context": metadata, "value": sets}
    return {
        "odata.metadata": metadata,
        "value": [{"name": s["name"], "url": s["url"]} for s in sets],
    }
