"""Every X12 file the tests see goes through pyx12 (azoner/pyx12), an independent validator.

pyx12 ships a 004010 830 map; it has none for 810, so the 810 is checked against
`maps/810.4010.xml` (written here from the 004010 810 segment list in erp-facts.md section 6,
in pyx12's map format) with pyx12's engine: envelopes, segment order and counts, element
types and lengths, SE/GE/IEA counts and control numbers are pyx12's own checks.
"""

import io
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

import pyx12
import pyx12.error_handler
import pyx12.params
import pyx12.x12n_document

MAPS = Path(pyx12.__file__).parent / "map"
OWN = Path(__file__).parent / "maps"


GS_AT_020 = (
    '<segment xid="GS">\n        <name>Functional Group Header</name>\n'
    "        <usage>R</usage>\n        <pos>020</pos>"
)

ST_AT_010 = (
    '<segment xid="ST">\n          <name>Transaction Set Header</name>\n'
    "          <usage>R</usage>\n          <pos>010</pos>"
)


def _map_dir() -> str:
    """pyx12's maps plus the 810 map, with two fixes to pyx12's own 830 entry.

    pyx12 files its 830 map under ISA12 `00400` only (ISA12 is `00401` for 004010); the map puts
    GS at position 020 (level with the ST loop) and ST at 010 (level with the header loop), so
    its walker never finds ST, and GS04/GS05 carry empty code lists. The copy lists the map
    under 00401 too, moves GS to 010 and ST to 005 and drops the empty lists, as pyx12's 997
    map has them.
    """
    target = Path(tempfile.gettempdir()) / f"bridge-pyx12-maps-{os.getuid()}"
    if not (target / "810.4010.xml").exists():
        shutil.copytree(MAPS, target, dirs_exist_ok=True)
        shutil.copy(OWN / "810.4010.xml", target / "810.4010.xml")
        maps = (target / "maps.xml").read_text()
        entry = (
            '    <map vriic="004010" fic="IN" abbr="810">810.4010.xml</map>\n'
            '    <map vriic="004010" fic="PS" abbr="830">830.4010.PS.xml</map>\n'
        )
        maps = maps.replace('  <version icvn="00401">\n', '  <version icvn="00401">\n' + entry, 1)
        (target / "maps.xml").write_text(maps)
        map_830 = (target / "830.4010.PS.xml").read_text()
        map_830 = map_830.replace(GS_AT_020, GS_AT_020.replace("<pos>020</pos>", "<pos>010</pos>"))
        map_830 = map_830.replace(ST_AT_010, ST_AT_010.replace("<pos>010</pos>", "<pos>005</pos>"))
        map_830 = re.sub(r"\s*<valid_codes>\s*</valid_codes>", "", map_830)
        (target / "830.4010.PS.xml").write_text(map_830)
        elements = (target / "dataele.xml").read_text()
        if 'ele_num="76"' not in elements:  # BIG02, the invoice number, is not in pyx12's list
            invoice = (
                '  <data_ele ele_num="76" data_type="AN" min_len="1" max_len="22" '
                'name="Invoice Number"/>\n'
            )
            elements = elements.replace("</data_elements>", invoice + "</data_elements>")
            (target / "dataele.xml").write_text(elements)
    return str(target)


def validate_x12(data: bytes) -> list[str]:
    """pyx12's errors for `data` (empty when the file is valid)."""
    param = pyx12.params.params()
    param.set("charset", "E")
    handler = io.StringIO()
    log = logging.getLogger("pyx12")
    stream = logging.StreamHandler(handler)
    stream.setLevel(logging.ERROR)
    log.addHandler(stream)
    try:
        ok = pyx12.x12n_document.x12n_document(
            param, io.StringIO(data.decode("ascii")), io.StringIO(), None, map_path=_map_dir()
        )
    finally:
        log.removeHandler(stream)
    errors = [line for line in handler.getvalue().splitlines() if line.strip()]
    if not ok and not errors:
        errors = ["pyx12 refused the file"]
    return errors
