"""Write sample_notes.csv (note, date, author, contact_email) from the .txt notes beside it, plus the
deliberately bad rows the bulk import must reject (see README.md). Run: python data/notes/build_sample_csv.py
"""

from __future__ import annotations

import csv
from pathlib import Path

HERE = Path(__file__).resolve().parent

# The note's main known contact, where one address identifies them; blank where a note is about several
# people, a new person, or someone whose address the CRM does not have.
CONTACT_EMAIL = {
    "01_acme_demo.txt": "john.smith@acme.com",
    "02_initech_bob.txt": "robert.chen@initech.com",
    "03_globex_zoe.txt": "zoe.mueller@globex.de",
    "04_kestrel_liz.txt": "elizabeth.moreno@kestrelhealth.co.uk",
    "08_helios_priya.txt": "priya.raman@helios-solar.ch",
    "09_bluefin_forwarded_email.txt": "kate.oneill@bluefinpay.ie",
    "11_pacifica_email_reply.txt": "patricia.nguyen@pacificabio.com",
    "13_vandelay_tony.txt": "tony.russo@vandelay.com",
    "16_northwind_bill.txt": "bill.turner@northwindtraders.com",
    "17_atlas_maria.txt": "mgarcia@atlasfreight.com",
    "18_summit_lost.txt": "jim@summitoutdoor.com",
    "19_cascade_jennifer.txt": "jennifer.ortiz@cascadefoods.com",
}
BAD_ROWS = [
    ("", "2026-11-24", "dana", ""),  # empty note
    ("Call with Owen Hughes at Meridian Travel: security pack sent, demo booked.", "2026-02-30", "li", ""),
    ("Quick call with Raj Mehta at Acme about the plant rollout; he wants a quote.", "next Tuesday", "dana",
     "raj.mehta@acme.com"),
]


def parse(path: Path) -> tuple[str, str, str]:
    """(body, date, rep) from a note whose first lines are 'Date: ...' and optionally 'Rep: ...'."""
    lines = path.read_text(encoding="utf-8").splitlines()
    header = {}
    while lines and ":" in lines[0] and lines[0].split(":", 1)[0] in ("Date", "Rep"):
        key, value = lines.pop(0).split(":", 1)
        header[key] = value.strip()
    return "\n".join(lines).strip(), header["Date"], header.get("Rep", "")


def main() -> None:
    rows = []
    for path in sorted(HERE.glob("*.txt")):
        body, date, rep = parse(path)
        rows.append((body, date, rep, CONTACT_EMAIL.get(path.name, "")))
    with (HERE / "sample_notes.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["note", "date", "author", "contact_email"])
        writer.writerows(rows + BAD_ROWS)


if __name__ == "__main__":
    main()
