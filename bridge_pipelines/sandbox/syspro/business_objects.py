"""Which business object answers which e.net call, and the answer for one that is not licensed.

`/Transaction/Post` runs transaction objects, `/Query/Query` query objects and `/Setup/*` setup
objects. A name that is unknown, not licensed (the `licensed_business_objects` setting) or
called through the wrong class answers `e.net exception 100000` [C for unregistered/unlicensed
objects; I for the wrong-class case].
"""

from collections.abc import Callable, Collection
from typing import Literal

from bridge_pipelines.sandbox.erp_base.store import StateStore
from bridge_pipelines.sandbox.syspro import appay, apsssp, apstin, comfnd, gentjl

CallClass = Literal["transaction", "query", "setup"]

TRANSACTION_OBJECTS: dict[str, Callable[[apstin.PostContext, str, str], bytes]] = {
    "APSTIN": apstin.post_ap_invoice,
    appay.BUSINESS_OBJECT: appay.post_manual_payment,
    "GENTJL": gentjl.post_gl_journal,
}
QUERY_OBJECTS: dict[str, Callable[[StateStore, str], bytes]] = {"COMFND": comfnd.query}
SETUP_OBJECTS = {"APSSSP": apsssp.setup_supplier}
ALL_OBJECTS: dict[str, Collection[str]] = {
    "transaction": TRANSACTION_OBJECTS,
    "query": QUERY_OBJECTS,
    "setup": SETUP_OBJECTS,
}
# Output roots of the objects' answers, for answers built outside them (validation faults).
OUTPUT_ROOTS = {
    "APSTIN": "postapinvoice",
    "APSSSP": "setupapsupplier",
    "GENTJL": "postgljournal",
}
OUTPUT_ROOTS[appay.BUSINESS_OBJECT] = appay.OUTPUT_ROOT


def available(name: str, call: CallClass, licensed: list[str]) -> bool:
    """True when `name` is a `call` object this sandbox implements and the licence holds."""
    return name in ALL_OBJECTS[call] and name in licensed
