"""Stampli vendors onto ERP suppliers by name, when no code links them (seed 002).

The code links come first (the tenant's mapping file, Stampli's `ErpVendorCode`, the same
code: `tables.build_tables`). A vendor none of them links is matched by name, and only when
that is not a guess: its normalised name (case, accents, punctuation and legal forms such as
"GmbH", "LLC", "s.r.o." ignored) equals exactly one active ERP supplier's, and no other
supplier comes close. Otherwise the nearest suppliers are ranked, with a score, for a person
to confirm in the mapping file; nothing is chosen for them.
"""

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from difflib import SequenceMatcher

LEGAL_FORMS = frozenset(
    {"ag", "bv", "co", "company", "corp", "corporation", "gmbh", "inc", "incorporated", "kg",
     "limited", "llc", "llp", "ltd", "nv", "oy", "plc", "sa", "sarl", "sas", "spa", "sro",
     "kk", "ab", "as", "pty"}
)  # fmt: skip
CANDIDATE_FLOOR = 0.6  # below this a name is not worth showing
CLOSE_RIVAL = 0.9  # another supplier this close makes an exact match ambiguous
MAX_CANDIDATES = 3


def normalised(name: str) -> str:
    """A name as compared: accents folded, lower case, punctuation and legal forms dropped."""
    folded = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in folded if not unicodedata.combining(c)).casefold()
    plain = re.sub(r"\b([a-z])\.(?=[a-z]\.)", r"\1", plain)  # s.r.o. -> sro
    words = re.findall(r"[^\W_]+", plain.replace("&", " and "))
    return " ".join(w for w in words if w not in LEGAL_FORMS)


@dataclass(frozen=True)
class Candidate:
    """An ERP supplier a Stampli vendor may be, and how alike their names are (0 to 1)."""

    code: str
    name: str
    score: float

    def __str__(self) -> str:
        return f"{self.code} {self.name!r} ({self.score:.2f})"


@dataclass(frozen=True)
class NameMatch:
    """One vendor's name match: the supplier it is (`code`), or only ranked candidates."""

    vendor: str
    name: str
    code: str | None
    candidates: tuple[Candidate, ...]


def rank(name: str, suppliers: Mapping[str, str]) -> tuple[Candidate, ...]:
    """ERP suppliers (`code -> name`) by likeness to `name`, best first, above the floor."""
    wanted = normalised(name)
    scored = [
        Candidate(
            code, supplier, round(SequenceMatcher(None, wanted, normalised(supplier)).ratio(), 3)
        )
        for code, supplier in suppliers.items()
    ]
    kept = [c for c in scored if c.score >= CANDIDATE_FLOOR]
    return tuple(sorted(kept, key=lambda c: (-c.score, c.code)))


def match_by_name(vendors: Mapping[str, str], suppliers: Mapping[str, str]) -> list[NameMatch]:
    """Each vendor (`id -> name`) against the active suppliers (`code -> name`).

    `code` is set only for one exact normalised name with no close rival; the candidates are
    listed either way (at most three).
    """
    found = []
    for vendor, name in sorted(vendors.items()):
        ranked = rank(name, suppliers) if name.strip() else ()
        exact = [c for c in ranked if normalised(c.name) == normalised(name)]
        rivals = [c for c in ranked if c.score >= CLOSE_RIVAL and c not in exact]
        code = exact[0].code if len(exact) == 1 and not rivals else None
        found.append(NameMatch(vendor, name, code, ranked[:MAX_CANDIDATES]))
    return found


def describe(match: NameMatch) -> str:
    """What a reviewer reads about a vendor no code links."""
    if match.code:
        return f"{match.vendor} ({match.name}) matched {match.code} by name"
    if not match.candidates:
        return f"{match.vendor} ({match.name}) has no ERP supplier of a similar name"
    nearest = ", ".join(str(c) for c in match.candidates)
    return (
        f"{match.vendor} ({match.name}) links to no ERP supplier by code; nearest by name: "
        f"{nearest}; confirm one in the tenant's mapping file"
    )


def names_of(pairs: Iterable[tuple[str, str | None]]) -> dict[str, str]:
    """`(id, name)` pairs as a map, blanks dropped (the last name of an id wins)."""
    return {key: (name or "").strip() for key, name in pairs if key and (name or "").strip()}
