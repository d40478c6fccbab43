"""The M3 programs the sandbox serves, as data: each transaction's input fields.

One table for every program, so another program is rows here plus a handler, never new
checking code. Each input is `(type, length, required)` in M3's own metadata terms: `A`
alphanumeric (length = characters), `N` numeric (length = digits, a sign and a decimal point
allowed), `D` a date `YYYYMMDD`. Sources: the field lists generated from M3's metadata in
`GaryWayneSmith/M3H5` (M3H5Lib.Api/*Resource.cs) [C], and `erp-facts.md` section 3 for
APS450MI `AddLine`'s accounting objects `AO01`-`AO07` [C]. Lengths not found there are marked
[I] and are what a field of that kind holds elsewhere in M3.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    """One input field of a transaction."""

    type: str  # "A", "N" or "D"
    length: int
    required: bool = False


def _f(type_: str, length: int, required: bool = False) -> Field:
    return Field(type_, length, required)


_DIVI = _f("A", 3)
_SUNO = _f("A", 10)

PROGRAMS: dict[str, dict[str, dict[str, Field]]] = {
    "APS450MI": {  # Supplier invoice batch interface [C]
        "AddHead": {
            "SUNO": _f("A", 10, True),
            "IVDT": _f("D", 10, True),
            "DIVI": _DIVI,
            "IBTP": _f("A", 2),
            "SINO": _f("A", 24),
            "SPYN": _SUNO,
            "CUCD": _f("A", 3),
            "ARAT": _f("N", 13),
            "TEPY": _f("A", 3),
            "PYME": _f("A", 3),
            "CUAM": _f("N", 17),
            "VTAM": _f("N", 17),
            "ACDT": _f("D", 10),
            "APCD": _f("A", 10),
            "DUDT": _f("D", 10),
            "PUNO": _f("A", 10),
            "SDA1": _f("A", 60),
            "SDA2": _f("A", 60),
            "SDA3": _f("A", 60),
            "TXIN": _f("N", 1),
            "CORI": _f("A", 36),
        },
        "AddLine": {
            "INBN": _f("N", 10, True),
            "RDTP": _f("N", 2, True),
            "DIVI": _DIVI,
            "NLAM": _f("N", 17),
            "VTA1": _f("N", 17),
            "VTCD": _f("N", 2),
            "PUNO": _f("A", 10),
            "PNLI": _f("N", 3),
            "IVQA": _f("N", 17),
            "ITNO": _f("A", 15),
            "CEID": _f("A", 6),
            "CHGT": _f("A", 30),
            "AO01": _f("A", 20),
            "AO02": _f("A", 10),
            "AO03": _f("A", 10),
            "AO04": _f("A", 10),
            "AO05": _f("A", 10),
            "AO06": _f("A", 10),
            "AO07": _f("A", 10),
        },
        "ApproveInvoice": {
            "INBN": _f("N", 10, True),
            "DIVI": _DIVI,
            "AAPD": _f("D", 10),
            "SINO": _f("A", 24),
            "IVDT": _f("D", 10),
            "DUDT": _f("D", 10),
        },
        "GetHead": {"INBN": _f("N", 10, True), "DIVI": _DIVI},
        "LstLines": {"INBN": _f("N", 10, True), "DIVI": _DIVI},
        "LstInvBySupInv": {
            "SINO": _f("A", 24, True),
            "DIVI": _DIVI,
            "SPYN": _SUNO,
            "SUNO": _SUNO,
        },
        # [I] the payee is optional here, so a whole division can be listed for `verify`.
        "LstInvBatchNo": {"DIVI": _DIVI, "SPYN": _SUNO, "SUPA": _f("N", 2)},
    },
    "APS455MI": {  # Supplier invoice batch - submitted [C]
        "ValidByBatchNo": {"INBN": _f("N", 10, True), "DIVI": _DIVI},
    },
    "APS200MI": {  # Supplier invoice interface [C]
        "GetInvTotInfo": {
            "DIVI": _DIVI,
            "SPYN": _SUNO,
            "SINO": _f("A", 24, True),
            "INYR": _f("N", 4),
            "SUNO": _SUNO,
        },
    },
    "APS130MI": {  # Supplier payment interface [C]
        "CreateProposal": {
            "CUDI": _f("A", 3, True),
            "DIVF": _f("A", 3, True),
            "DIVT": _f("A", 3, True),
            "PRPD": _f("D", 10, True),
            "SPYF": _SUNO,
            "SPYT": _SUNO,
            "IVDF": _f("D", 10),
            "IVDT": _f("D", 10),
            "CUCF": _f("A", 3),
            "CUCT": _f("A", 3),
            "LITX": _f("A", 40),  # Report text [C name; I length]
        },
        "LstInvByPayDoc": {
            "DIVI": _f("A", 3, True),
            "PRPN": _f("N", 10, True),
            "PYON": _f("N", 7, True),
        },
        "DeleteProposal": {
            "DIVI": _f("A", 3, True),
            "PRPN": _f("N", 10, True),
            "PYON": _f("N", 7, True),
        },
        "CreateConfChk": {
            "DIVI": _f("A", 3, True),
            "PRPN": _f("N", 10, True),
            "PYON": _f("N", 7, True),
            "ACDT": _f("D", 10, True),
            "LITP": _f("A", 10, True),
            "CKNO": _f("A", 15),
            "CUCD": _f("A", 3),
            "VTXT": _f("A", 40),
        },
        "LstProposal": {"DIVI": _f("A", 3, True), "PRPN": _f("N", 10)},
    },
    "CRS620MI": {  # Supplier [C]
        "LstSuppliers": {"SUNO": _SUNO},
        "GetBasicData": {"SUNO": _f("A", 10, True)},
        "AddSupplier": {
            "SUNO": _f("A", 10, True),
            "SUNM": _f("A", 36, True),
            "CUCD": _f("A", 3),
            "TEPY": _f("A", 3),
            "VRNO": _f("A", 16),
            "MEAL": _f("A", 60),
            "STAT": _f("A", 2),
        },
        "UpdSupplier": {
            "SUNO": _f("A", 10, True),
            "SUNM": _f("A", 36),
            "CUCD": _f("A", 3),
            "TEPY": _f("A", 3),
            "VRNO": _f("A", 16),
            "MEAL": _f("A", 60),
            "STAT": _f("A", 2),
        },
    },
    "CRS630MI": {  # Accounting identities: AITP 1 = accounts, 2.. = dimensions [C]
        "LstAccountID": {"AITP": _f("N", 1, True), "DIVI": _DIVI, "AITM": _f("A", 10)},
    },
}


def fields_of(program: str, transaction: str) -> dict[str, Field] | None:
    """The input fields of `program`/`transaction`, or None when M3 has no such transaction."""
    return PROGRAMS.get(program, {}).get(transaction)
