"""Mapping tables: Stampli codes onto the ERP's, built from ERP master data and a tenant file.

A code maps only onto something the ERP really has (its master data, synced before postings),
so an invoice is never posted to a guessed account: what does not resolve is held for review.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

import yaml

from bridge_pipelines.errors import FieldProblem, TenantConfigError
from bridge_pipelines.mapping.matching import describe, match_by_name

MappingKind = Literal["vendors", "gl_accounts", "cost_centers"]
MAPPING_KINDS: tuple[MappingKind, ...] = ("vendors", "gl_accounts", "cost_centers")


@dataclass(frozen=True)
class MappingOverrides:
    """What a data engineer pinned by hand in `mappings/<tenant>.yaml` (Stampli -> ERP)."""

    vendors: Mapping[str, str] = field(default_factory=dict)
    gl_accounts: Mapping[str, str] = field(default_factory=dict)
    cost_centers: Mapping[str, str] = field(default_factory=dict)
    source: str = "<none>"


@dataclass(frozen=True)
class ErpCodes:
    """The codes the ERP has, from its master data (only active ones should be passed)."""

    vendors: frozenset[str]
    gl_accounts: frozenset[str]
    cost_centers: frozenset[str]


@dataclass(frozen=True)
class MappingEntry:
    """One resolved code and why: a reviewer can see where every mapping came from."""

    stampli: str
    erp: str
    origin: str  # "override", "stampli_erp_code", "same_code", "name_match"


@dataclass(frozen=True)
class MappingTables:
    """Resolved tables per kind, plus the problems found while building them."""

    vendors: Mapping[str, MappingEntry]
    gl_accounts: Mapping[str, MappingEntry]
    cost_centers: Mapping[str, MappingEntry]
    problems: tuple[str, ...] = ()

    def lookup(self, kind: MappingKind, stampli_code: str) -> str | None:
        table: Mapping[str, MappingEntry] = getattr(self, kind)
        entry = table.get(stampli_code)
        return entry.erp if entry else None


def load_overrides(path: Path) -> MappingOverrides:
    """Read a tenant's mapping file; a missing file means no overrides.

    Raises:
        TenantConfigError: the file is not a mapping of the three known kinds to string maps.
    """
    if not path.exists():
        return MappingOverrides(source=str(path))
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "?"
        raise TenantConfigError([FieldProblem(str(path), where, "not valid YAML")]) from None
    problems: list[FieldProblem] = []
    if not isinstance(document, dict):
        raise TenantConfigError([FieldProblem(str(path), "<root>", "must be a mapping")])
    tables: dict[str, dict[str, str]] = {}
    for key, value in document.items():
        if key not in MAPPING_KINDS:
            problems.append(FieldProblem(str(path), str(key), f"unknown; use {MAPPING_KINDS}"))
            continue
        if not isinstance(value, dict) or not all(
            isinstance(k, str | int) and isinstance(v, str | int) for k, v in value.items()
        ):
            problems.append(FieldProblem(str(path), str(key), "must map codes to codes"))
            continue
        tables[key] = {str(k): str(v) for k, v in value.items()}
    if problems:
        raise TenantConfigError(problems)
    return MappingOverrides(
        vendors=MappingProxyType(tables.get("vendors", {})),
        gl_accounts=MappingProxyType(tables.get("gl_accounts", {})),
        cost_centers=MappingProxyType(tables.get("cost_centers", {})),
        source=str(path),
    )


def build_tables(
    erp: ErpCodes,
    *,
    stampli_vendor_hints: Mapping[str, str] | None = None,
    stampli_gl_accounts: Iterable[str] = (),
    stampli_cost_centers: Iterable[str] = (),
    stampli_vendors: Iterable[str] = (),
    overrides: MappingOverrides | None = None,
    vendor_names: Mapping[str, str] | None = None,
    erp_vendor_names: Mapping[str, str] | None = None,
) -> MappingTables:
    """Resolve every known Stampli code: override, then Stampli's ERP code hint, then same code.

    An override or hint pointing at a code the ERP does not have is a problem, not a mapping.
    A vendor no code links is then matched by name (`matching.match_by_name`, with
    `vendor_names` Stampli id -> name and `erp_vendor_names` active ERP code -> name): one
    exact match is a `name_match` entry; otherwise its ranked candidates are a problem.
    """
    overrides = overrides or MappingOverrides()
    hints = dict(stampli_vendor_hints or {})
    problems: list[str] = []

    def resolve(
        kind: MappingKind,
        codes: Iterable[str],
        known: frozenset[str],
        pinned: Mapping[str, str],
        hinted: Mapping[str, str],
    ) -> dict[str, MappingEntry]:
        table: dict[str, MappingEntry] = {}
        for code in sorted({*codes, *pinned, *hinted}):
            candidates = [
                (pinned.get(code), "override"),
                (hinted.get(code), "stampli_erp_code"),
                (code, "same_code"),
            ]
            for erp_code, origin in candidates:
                if not erp_code:
                    continue
                if erp_code in known:
                    table[code] = MappingEntry(code, erp_code, origin)
                    break
                if origin != "same_code":
                    where = f" in {overrides.source}" if origin == "override" else ""
                    problems.append(
                        f"{kind}: {code} -> {erp_code} ({origin}{where}) "
                        "is not an active code in the ERP's master data (missing or inactive)"
                    )
        return table

    vendors = resolve("vendors", stampli_vendors, erp.vendors, overrides.vendors, hints)
    if vendor_names and erp_vendor_names:
        unlinked = {v: n for v, n in vendor_names.items() if v not in vendors}
        for match in match_by_name(unlinked, erp_vendor_names):
            if match.code:
                vendors[match.vendor] = MappingEntry(match.vendor, match.code, "name_match")
            else:
                problems.append(f"vendors: {describe(match)}")
    return MappingTables(
        vendors=MappingProxyType(vendors),
        gl_accounts=MappingProxyType(
            resolve("gl_accounts", stampli_gl_accounts, erp.gl_accounts, overrides.gl_accounts, {})
        ),
        cost_centers=MappingProxyType(
            resolve(
                "cost_centers", stampli_cost_centers, erp.cost_centers, overrides.cost_centers, {}
            )
        ),
        problems=tuple(problems),
    )
