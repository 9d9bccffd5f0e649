"""Write the seed CRM CSVs (companies, contacts, deals, interactions) beside this file.

The hard cases (namesakes, duplicates, nicknames, accents, shared surnames) are written out by hand
below with fixed ids, because tests and notes refer to them; the rest is filler drawn from name pools
with a fixed seed, rejecting any filler that would blur a hard case. Run it again and the CSVs come out
byte-identical:

    python data/crm/generate.py
"""

from __future__ import annotations

import csv
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20261126
TODAY = date(2026, 11, 26)
STAGES = ("lead", "qualified", "demo", "proposal", "negotiation", "closed_won", "closed_lost")

# id, name, domain, industry, city, country code (for phone formats), account owner
COMPANIES = [
    (1, "Acme Corp.", "acme.com", "Industrial equipment", "Chicago", "us", "dana"),
    (2, "Globex GmbH", "globex.de", "Logistics", "Munich", "de", "li"),
    (3, "Initech, Inc.", "initech.com", "Software", "Austin", "us", "sam"),
    (4, "Umbrella Ltd", "umbrella.co.uk", "Pharmaceuticals", "London", "uk", "li"),
    (5, "Northwind Traders LLC", "northwindtraders.com", "Wholesale food", "Seattle", "us", "dana"),
    (6, "Bluewater Logistics S.A.", "bluewaterlogistics.es", "Logistics", "Madrid", "es", "marco"),
    (7, "Kestrel Health plc", "kestrelhealth.co.uk", "Healthcare", "Manchester", "uk", "li"),
    (8, "Maison Lefèvre SA", "maisonlefevre.fr", "Luxury goods", "Lyon", "fr", "marco"),
    (9, "Helios Solar AG", "helios-solar.ch", "Renewable energy", "Zurich", "ch", "dana"),
    (10, "BlueFin Payments Ltd", "bluefinpay.ie", "Fintech", "Dublin", "ie", "marco"),
    (11, "Ironbridge Construction Ltd", "ironbridge.co.uk", "Construction", "Leeds", "uk", "sam"),
    (12, "Verdant AgriTech GmbH", "verdant-agritech.de", "Agriculture technology", "Berlin", "de", "li"),
    (13, "Tandem Robotics B.V.", "tandemrobotics.nl", "Robotics", "Eindhoven", "nl", "sam"),
    (14, "Fjord Seafood AS", "fjordseafood.no", "Food processing", "Bergen", "no", "marco"),
    (15, "Cloudberry Software AB", "cloudberry.se", "Software", "Stockholm", "se", "sam"),
    (16, "Orchard & Finch LLP", "orchardfinch.com", "Legal services", "New York", "us", "dana"),
    (17, "Acme Logistics Ltd", "acmelogistics.co.uk", "Logistics", "Birmingham", "uk", "li"),
    (18, "Pinecrest Software LLC", "pinecrest.io", "Software", "Denver", "us", "sam"),
    (19, "Summit Outdoor Co.", "summitoutdoor.com", "Outdoor retail", "Boulder", "us", "dana"),
    (20, "Cascade Foods Corporation", "cascadefoods.com", "Food and beverage", "Portland", "us", "dana"),
    (21, "Meridian Travel Group plc", "meridiantravel.co.uk", "Travel", "Edinburgh", "uk", "li"),
    (22, "Copperleaf Media, Inc.", "copperleafmedia.com", "Media", "Los Angeles", "us", "sam"),
    (23, "Pacifica Biotech Inc", "pacificabio.com", "Biotechnology", "San Diego", "us", "dana"),
    (24, "Lumen Grid Energy Corp", "lumengrid.com", "Utilities", "Houston", "us", "sam"),
    (25, "Atlas Freight Co.", "atlasfreight.com", "Logistics", "Memphis", "us", "sam"),
    (26, "Harborview Hotels LLC", "harborviewhotels.com", "Hospitality", "Boston", "us", "dana"),
    (27, "Sakura Components K.K.", "sakura-comp.jp", "Electronic components", "Osaka", "jp", "li"),
    (28, "Polaris Data Systems, Inc.", "polarisdata.com", "Data infrastructure", "Minneapolis", "us", "sam"),
    (29, "Nimbus Cloud Services Inc.", "nimbuscloud.io", "Cloud hosting", "Raleigh", "us", "sam"),
    (30, "Falcon Aerospace Corporation", "falconaero.com", "Aerospace", "Wichita", "us", "dana"),
    (31, "Granite State Bank", "granitestatebank.com", "Banking", "Concord", "us", "dana"),
    (32, "Tidewater Marine Supply Co.", "tidewatermarine.com", "Marine supply", "Norfolk", "us", "sam"),
    (33, "Crescent Pharmacy Group, LLC", "crescentrx.com", "Pharmacy", "Phoenix", "us", "dana"),
    (34, "Monarch Apparel Inc.", "monarchapparel.com", "Apparel", "New York", "us", "li"),
    (35, "Solstice Wellness S.L.", "solsticewellness.es", "Wellness", "Barcelona", "es", "marco"),
    (36, "Keystone Logistics Corp.", "keystonelogistics.com", "Logistics", "Pittsburgh", "us", "sam"),
    (37, "Halcyon Games Ltd", "halcyongames.co.uk", "Video games", "Brighton", "uk", "li"),
    (38, "Aurora Textiles S.p.A.", "auroratextiles.it", "Textiles", "Milan", "it", "marco"),
    (39, "Westbrook Medical Center", "westbrookmed.org", "Healthcare", "Cleveland", "us", "dana"),
    (40, "Cobalt Security Inc.", "cobaltsec.com", "Cybersecurity", "Arlington", "us", "sam"),
    (41, "Trident Telecom Ltd", "tridenttelecom.co.uk", "Telecommunications", "Bristol", "uk", "li"),
    (42, "Juniper Education Group LLC", "junipered.com", "Education", "Atlanta", "us", "dana"),
    (43, "Vertex Engineering GmbH", "vertex-eng.de", "Engineering", "Stuttgart", "de", "li"),
    (44, "Saffron Hospitality Pty Ltd", "saffronhospitality.com.au", "Hospitality", "Sydney", "au", "marco"),
    (45, "Maple Leaf Robotics Inc.", "mapleleafrobotics.ca", "Robotics", "Toronto", "ca", "sam"),
    (46, "Riverbend Brewing Co.", "riverbendbrewing.com", "Beverages", "Asheville", "us", "dana"),
    (47, "Gemini Semiconductors Corp.", "geminisemi.com", "Semiconductors", "San Jose", "us", "sam"),
    (48, "Larkspur Ventures LP", "larkspur.vc", "Venture capital", "Palo Alto", "us", "dana"),
    (49, "Brightwater Utilities plc", "brightwater-utilities.co.uk", "Utilities", "Cardiff", "uk", "li"),
    (50, "Nordlicht Maschinenbau GmbH", "nordlicht-mb.de", "Machinery", "Hamburg", "de", "li"),
    (51, "Vandelay Industries, Inc.", "vandelay.com", "Import and export", "Newark", "us", "sam"),
    (52, "Redwood Analytics Inc.", "redwoodanalytics.com", "Analytics", "Oakland", "us", "sam"),
    (53, "Quillon Insurance Company", "quillon.com", "Insurance", "Hartford", "us", "dana"),
    (54, "Starling Dental Group PC", "starlingdental.com", "Dental care", "Nashville", "us", "dana"),
    (55, "Oakmont Publishing Ltd.", "oakmontpub.co.uk", "Publishing", "Oxford", "uk", "li"),
    (56, "Zephyr Wind Power A/S", "zephyrwind.dk", "Renewable energy", "Aarhus", "dk", "marco"),
    (57, "Tessellate Studio Ltd", "tessellate.studio", "Design", "Manchester", "uk", "li"),
    (58, "Kowloon Trading Co., Ltd.", "kowloontrading.hk", "Trading", "Hong Kong", "hk", "li"),
    (59, "Silverline Insurance Co.", "silverline-ins.com", "Insurance", "Charlotte", "us", "dana"),
    (60, "Evergreen Property Management LLC", "evergreenpm.com", "Real estate", "Seattle", "us", "dana"),
]

# The hard cases, by hand. id, name, email, phone, title, company id, owner ("" = the account owner).
HAND_CONTACTS = [
    # Namesakes at different companies.
    (1, "John Smith", "john.smith@acme.com", "+1 312-555-0142", "VP Operations", 1, ""),
    (2, "John Smith", "jsmith@globex.de", "+49 89 2019 4471", "Head of Procurement", 2, ""),
    # Colleagues who share a surname (and Robert is often called Bob).
    (3, "Robert Chen", "robert.chen@initech.com", "(512) 555-0187", "CTO", 3, ""),
    (4, "Emily Chen", "emily.chen@initech.com", "+1 512 555 0133", "Director of Finance", 3, ""),
    # Nicknames (the CRM has the formal name; reps write the short one).
    (5, "William Turner", "bill.turner@northwindtraders.com", "206-555-0119", "Purchasing Manager", 5, ""),
    (6, "Elizabeth Moreno", "elizabeth.moreno@kestrelhealth.co.uk", "+44 161 496 0231",
     "Chief Operating Officer", 7, ""),
    (7, "Katherine O'Neill", "kate.oneill@bluefinpay.ie", "+353 1 653 2290", "Head of Partnerships", 10, ""),
    (8, "Alejandro Ruiz", "alejandro.ruiz@bluewaterlogistics.es", "+34 912 555 171", "Operations Director",
     6, ""),
    # Accents.
    (9, "José Núñez", "jose.nunez@bluewaterlogistics.es", "+34 915 550 172", "CFO", 6, ""),
    (10, "Zoë Müller", "zoe.mueller@globex.de", "+49 89 2019 4402", "Logistics Lead", 2, ""),
    (11, "François Lefèvre", "f.lefevre@maisonlefevre.fr", "+33 4 72 55 01 34", "Managing Director", 8, ""),
    # First name + company (the only Priya at Helios; two Sarahs at Umbrella).
    (12, "Priya Raman", "priya.raman@helios-solar.ch", "+41 44 555 01 28", "Head of Procurement", 9, ""),
    (13, "Sarah Patel", "sarah.patel@umbrella.co.uk", "+44 20 7946 0958", "Procurement Manager", 4, ""),
    (14, "Sarah Kim", "sarah.kim@umbrella.co.uk", "", "Clinical Operations Lead", 4, ""),
    # Near-duplicate: the same person twice (nickname, personal email, same phone in another format).
    (15, "Michael Brennan", "m.brennan@ironbridge.co.uk", "+44 113 496 0712", "Project Director", 11, ""),
    (16, "Mike Brennan", "mikebrennan77@gmail.com", "0113 496 0712", "Project Director", 11, "dana"),
    # Near-duplicate: one spelling each (Polish feminine surname), two work addresses.
    (17, "Anna Kowalski", "anna.kowalski@verdant-agritech.de", "+49 30 901820 14", "Agronomy Lead", 12, ""),
    (18, "Anna Kowalska", "anna.kowalska@verdant-agritech.de", "", "Agronomy Lead", 12, ""),
    # Letters that Unicode does not decompose (ø, ł, ö is fine but kept for the set).
    (19, "Søren Østergaard", "soren@fjordseafood.no", "+47 55 55 01 90", "CEO", 14, ""),
    (20, "Björn Lindqvist", "bjorn.lindqvist@cloudberry.se", "+46 8 555 012 34", "VP Engineering", 15, ""),
    (21, "Łukasz Nowak", "lukasz.nowak@tandemrobotics.nl", "+31 40 555 0144", "Supply Chain Manager", 13, ""),
    # More nicknames; Margaret and Owen Hughes are colleagues who share a surname.
    (22, "Margaret Hughes", "maggie.hughes@meridiantravel.co.uk", "+44 131 496 0050", "Head of IT", 21, ""),
    (23, "James Walker", "jim@summitoutdoor.com", "303-555-0166", "Owner", 19, ""),
    # Near-duplicate with the very same email, entered twice.
    (24, "Jennifer Ortiz", "jennifer.ortiz@cascadefoods.com", "(503) 555-0109", "VP Supply Chain", 20, ""),
    # Namesakes again.
    (25, "Maria Garcia", "mgarcia@atlasfreight.com", "901-555-0150", "Dispatch Manager", 25, ""),
    (26, "Maria Garcia", "maria.garcia@crescentrx.com", "602-555-0183", "Regional Director", 33, ""),
    # Acme colleagues (the same email domain as John Smith, different people).
    (27, "Linda Park", "linda.park@acme.com", "+1 312 555 0178", "CFO", 1, ""),
    (28, "Raj Mehta", "raj.mehta@acme.com", "312.555.0191", "Plant Manager", 1, ""),
    (29, "Daniel Okafor", "dan.okafor@polarisdata.com", "612-555-0124", "Head of Data", 28, ""),
    # "Chris Lee at Nimbus" could be either.
    (30, "Christopher Lee", "chris.lee@nimbuscloud.io", "(919) 555-0161", "Director of Platform", 29, ""),
    (31, "Christine Lee", "christine.lee@nimbuscloud.io", "919-555-0162", "Head of Finance", 29, ""),
    (32, "Anthony Russo", "tony.russo@vandelay.com", "+1 973 555 0114", "COO", 51, ""),
    (33, "Patricia Nguyen", "patricia.nguyen@pacificabio.com", "858-555-0137", "VP Research Operations", 23, ""),
    (34, "Richard Dawson", "rdawson@falconaero.com", "(316) 555-0102", "Procurement Director", 30, ""),
    (35, "Rebecca Stone", "becky.stone@harborviewhotels.com", "617-555-0148", "General Manager", 26, ""),
    # Missing phone; missing email.
    (36, "Charles Whitfield", "charles.whitfield@lumengrid.com", "", "Grid Operations Director", 24, ""),
    (37, "Hiroshi Tanaka", "h.tanaka@sakura-comp.jp", "+81 6 5550 1234", "Procurement Manager", 27, ""),
    (38, "Siobhan Murphy", "siobhan.murphy@bluefinpay.ie", "+353 1 653 2211", "CFO", 10, ""),
    # Same surname as Katherine O'Neill, different company.
    (39, "Grace O'Neill", "grace.oneill@tridenttelecom.co.uk", "+44 117 496 0381", "Network Planning Lead",
     41, ""),
    (40, "Benjamin Adler", "ben.adler@cobaltsec.com", "+1 703 555 0190", "CISO", 40, ""),
    (41, "Samuel Adler", "sam.adler@orchardfinch.com", "(212) 555-0175", "Partner", 16, ""),
    (42, "Olivia Bennett", "olivia.bennett@copperleafmedia.com", "", "Head of Audience", 22, ""),
    (43, "Marcus Webb", "", "404-555-0127", "Dean of Operations", 42, ""),
    (44, "Nadia Hassan", "", "+44 29 2018 0456", "Asset Manager", 49, ""),
    (45, "Chloé Dubois", "chloe.dubois@maisonlefevre.fr", "+33 4 72 55 01 40", "Head of Retail", 8, ""),
    (46, "Ingrid Johansson", "ingrid.johansson@cloudberry.se", "+46 8 555 012 77", "CFO", 15, ""),
    # Near namesakes at different companies (Schmidt / Schmitt).
    (47, "Peter Schmidt", "p.schmidt@vertex-eng.de", "+49 711 555 0133", "Technical Director", 43, ""),
    (48, "Peter Schmitt", "peter.schmitt@nordlicht-mb.de", "+49 40 555 0182", "Head of Purchasing", 50, ""),
    (49, "Mei Lin Wong", "meilin.wong@kowloontrading.hk", "+852 5550 1288", "Director", 58, ""),
    (50, "Giulia Romano", "giulia.romano@auroratextiles.it", "+39 02 5550 1191", "Supply Chain Director", 38, ""),
    (51, "Liam O'Connor", "liam.oconnor@halcyongames.co.uk", "+44 1273 496 012", "Studio Director", 37, ""),
    (52, "Ahmed Al-Sayed", "ahmed.alsayed@geminisemi.com", "(408) 555-0139", "VP Manufacturing", 47, ""),
    (53, "Kate Sullivan", "kate.sullivan@junipered.com", "404-555-0193", "Director of IT", 42, ""),
    (54, "Owen Hughes", "owen.hughes@meridiantravel.co.uk", "+44 131 496 0077", "Procurement Lead", 21, ""),
    (55, "Jennifer Ortiz", "jennifer.ortiz@cascadefoods.com", "", "VP, Supply Chain", 20, "li"),
    (56, "Tomás Herrera", "tomas.herrera@solsticewellness.es", "+34 933 555 014", "Founder", 35, ""),
    (57, "Dmitri Volkov", "dvolkov@polarisdata.com", "+1 612 555 0177", "Staff Engineer", 28, ""),
    (58, "Aisha Bello", "aisha.bello@nimbuscloud.io", "", "Procurement Specialist", 29, ""),
    (59, "Hannah Fischer", "hannah.fischer@globex.de", "+49 89 2019 4433", "Warehouse Manager", 2, ""),
    (60, "Kevin O'Brien", "kevin@riverbendbrewing.com", "828-555-0151", "Co-founder", 46, ""),
    # At the look-alike of Acme Corp.
    (61, "Gwen Harlow", "gwen.harlow@acmelogistics.co.uk", "+44 121 496 0420", "Fleet Manager", 17, ""),
]

FIRST_NAMES = [
    "Aaron", "Adrian", "Alice", "Amelia", "Andrea", "Bianca", "Caroline", "Carlos", "Clara",
    "Connor", "Diana", "Eduardo", "Elena", "Ethan", "Fatima", "Felix", "Fiona", "Gavin", "Helen",
    "Ian", "Irene", "Isaac", "Jacob", "Julia", "Karen", "Keith", "Laura", "Leah", "Lucas",
    "Lucy", "Mark", "Martin", "Megan", "Nathan", "Nina", "Noah", "Oscar", "Paula", "Quentin",
    "Rachel", "Ravi", "Rosa", "Ruth", "Sean", "Simone", "Sofia", "Stuart", "Tara", "Theo",
    "Tessa", "Umar", "Valerie", "Victor", "Wendy", "Xavier", "Yasmin", "Yusuf", "Zara", "Gareth",
    "Heidi", "Joaquín", "Lena", "Matteo", "Nora", "Pablo", "Renée", "Sven", "Ulrike", "Wei",
]
LAST_NAMES = [
    "Abbott", "Alvarez", "Andersen", "Armstrong", "Bailey", "Barnes", "Becker", "Bishop", "Brooks",
    "Castillo", "Clarke", "Coleman", "Cooper", "Dalton", "Delgado", "Doyle", "Edwards", "Ellis",
    "Fleming", "Foster", "Gallagher", "Gibson", "Graham", "Hale", "Harper", "Hayes", "Holt",
    "Ibrahim", "Jensen", "Kaur", "Keller", "Kennedy", "Lambert", "Larsen", "Lopez", "Marsh",
    "Morales", "Morgan", "Nakamura", "Nilsson", "Novak", "Osei", "Palmer", "Pereira", "Quinn",
    "Reyes", "Richter", "Rossi", "Sandoval", "Schwartz", "Shah", "Silva", "Sato", "Sørensen",
    "Torres", "Vasquez", "Wagner", "Ward", "Weber", "Young", "Zimmermann", "Yilmaz", "Banerjee",
]
TITLES = [
    "Procurement Manager", "Head of Operations", "IT Director", "VP Finance", "Operations Manager",
    "Data Engineer", "Chief of Staff", "Office Manager", "Category Manager", "Head of Procurement",
    "Finance Manager", "Logistics Coordinator", "Director of Engineering", "Sales Operations Lead",
    "Facilities Manager", "Controller", "CTO", "COO", "Senior Buyer", "Program Manager",
]

DEAL_THEMES = [
    "Fleet telemetry pilot", "Analytics platform rollout", "Annual licence renewal", "Warehouse sync add-on",
    "Procurement portal", "Data migration project", "Forecasting module", "Field service app",
    "Compliance reporting", "Support upgrade", "EU expansion seats", "API integration package",
]
NEXT_STEPS = {
    "lead": ["Intro call", "Send overview deck", "Qualify budget"],
    "qualified": ["Book demo", "Discovery call with IT", "Confirm stakeholders"],
    "demo": ["Run product demo", "Follow-up demo for finance", "Share demo recording"],
    "proposal": ["Send proposal", "Review proposal with procurement", "Revise pricing"],
    "negotiation": ["Legal review of MSA", "Agree discount", "Send order form"],
    "closed_won": ["Kickoff call", "Onboarding session"],
    "closed_lost": [""],
}
# Deals tied to the sample notes, by hand: id, company, contact, name, stage, amount, next step, date.
HAND_DEALS = [
    (1, 1, 1, "Acme Corp. – Fleet telemetry pilot", "demo", 48000, "Follow-up demo for finance", "2026-11-24"),
    (2, 3, 3, "Initech – Analytics platform rollout", "proposal", 120000, "Send proposal", "2026-11-20"),
    (3, 2, 2, "Globex – Warehouse sync add-on", "qualified", 12500, "Book demo", "2026-11-27"),
    (4, 11, 15, "Ironbridge – Site reporting", "negotiation", 64000, "Legal review of MSA", "2026-11-30"),
    (5, 9, 12, "Helios Solar – Procurement portal", "proposal", 36000, "Review proposal with procurement",
     "2026-12-02"),
    (6, 6, 8, "Bluewater – EU expansion seats", "negotiation", 92000, "Agree discount", "2026-11-28"),
    (7, 4, 13, "Umbrella – Compliance reporting", "demo", 55000, "Run product demo", "2026-12-01"),
    (8, 5, 5, "Northwind – Annual licence renewal", "closed_won", 18000, "Kickoff call", "2026-11-10"),
    (9, 29, 30, "Nimbus – API integration package", "lead", 22000, "Intro call", "2026-12-03"),
    (10, 10, 7, "BlueFin – Partner analytics", "qualified", 40000, "Discovery call with IT", "2026-11-25"),
]


AREA_CODES = {"Chicago": "312", "Austin": "512", "Seattle": "206", "New York": "212", "Denver": "303",
              "Boulder": "303", "Portland": "503", "Los Angeles": "213", "San Diego": "858", "Houston": "713",
              "Memphis": "901", "Boston": "617", "Minneapolis": "612", "Raleigh": "919", "Wichita": "316",
              "Concord": "603", "Norfolk": "757", "Phoenix": "602", "Pittsburgh": "412", "Cleveland": "216",
              "Arlington": "703", "Atlanta": "404", "Toronto": "416", "Asheville": "828", "San Jose": "408",
              "Palo Alto": "650", "Newark": "973", "Oakland": "510", "Hartford": "860", "Nashville": "615",
              "Charlotte": "704"}

# Ofcom's ranges reserved for drama, so none of these rings anyone.
UK_LOCAL = {"London": "20 7946 0{n}", "Manchester": "161 496 0{n}", "Leeds": "113 496 0{n}",
            "Edinburgh": "131 496 0{n}", "Bristol": "117 496 0{n}", "Birmingham": "121 496 0{n}",
            "Brighton": "1273 496{n}", "Cardiff": "29 2018 0{n}", "Oxford": "1865 496{n}"}
DE_AREA = {"Munich": "89", "Berlin": "30", "Stuttgart": "711", "Hamburg": "40"}


def phone_for(country: str, city: str, rng: random.Random) -> str:
    """A plausible, fictional phone number (555-01xx, Ofcom drama ranges) in a format reps actually type."""
    n = rng.randint(100, 199)
    if country in ("us", "ca"):
        area = AREA_CODES[city]
        fmt = rng.choice(["+1 {a}-555-0{n}", "({a}) 555-0{n}", "{a}.555.0{n}", "{a}-555-0{n}",
                          "+1 ({a}) 555 0{n}"])
        return fmt.format(a=area, n=n)
    if country == "uk":
        local = UK_LOCAL[city].format(n=n)
        return rng.choice([f"+44 {local}", f"0{local}", f"+44 (0){local}"])
    if country == "de":
        return f"+49 {DE_AREA[city]} 555 0{n}"
    prefixes = { "es": "+34 91 555", "fr": "+33 1 55 50", "ch": "+41 44 555",
                "ie": "+353 1 555", "nl": "+31 20 555", "no": "+47 22 55", "se": "+46 8 555",
                "it": "+39 02 555", "jp": "+81 3 5550", "au": "+61 2 5550", "dk": "+45 33 55",
                "hk": "+852 5550"}
    return f"{prefixes[country]} {n:03d}{rng.randint(0, 9)}"


def ascii_fold(text: str) -> str:
    """Lowercase ASCII for an email local part (José -> jose, Sørensen -> sorensen)."""
    import unicodedata

    text = text.lower().replace("ø", "o").replace("ł", "l").replace("'", "")
    return "".join(c for c in unicodedata.normalize("NFKD", text) if c.isascii() and c.isalnum())


def filler_contacts(rng: random.Random, start_id: int, count: int) -> list[tuple]:
    """Filler contacts that never share a first name, surname or full name with a hard case."""
    hand_first = {name.split()[0] for _, name, *_ in HAND_CONTACTS}
    hand_last = {name.split()[-1] for _, name, *_ in HAND_CONTACTS}
    taken_full: set[str] = set()
    per_company: dict[int, set[str]] = {}
    phones = {"".join(ch for ch in c[3] if ch.isdigit())[-9:] for c in HAND_CONTACTS if c[3]}
    for _, name, _, _, _, company_id, _ in HAND_CONTACTS:
        per_company.setdefault(company_id, set()).update(name.split())
    rows = []
    next_id = start_id
    while len(rows) < count:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company = COMPANIES[rng.randrange(len(COMPANIES))]
        used = per_company.setdefault(company[0], set())
        if first in hand_first or last in hand_last or f"{first} {last}" in taken_full or first in used \
                or last in used:
            continue
        used.update({first, last})
        taken_full.add(f"{first} {last}")
        style = rng.random()
        local = (f"{ascii_fold(first)}.{ascii_fold(last)}" if style < 0.6
                 else f"{ascii_fold(first)[0]}{ascii_fold(last)}" if style < 0.85 else ascii_fold(first))
        email = "" if rng.random() < 0.08 else f"{local}@{company[2]}"
        phone = "" if rng.random() < 0.15 else phone_for(company[5], company[4], rng)
        if phone and "".join(ch for ch in phone if ch.isdigit())[-9:] in phones:
            continue
        phones.add("".join(ch for ch in phone if ch.isdigit())[-9:])
        owner = company[6] if rng.random() < 0.85 else rng.choice(["dana", "li", "sam", "marco"])
        rows.append((next_id, f"{first} {last}", email, phone, rng.choice(TITLES), company[0], owner))
        next_id += 1
    return rows


def contacts_rows(rng: random.Random) -> list[tuple]:
    """All contacts: the hand-written hard cases, then filler up to 200."""
    owners = {c[0]: c[6] for c in COMPANIES}
    hand = [(i, n, e, p, t, co, o or owners[co]) for i, n, e, p, t, co, o in HAND_CONTACTS]
    return hand + filler_contacts(rng, len(hand) + 1, 200 - len(hand))


def trading_name(name: str) -> str:
    """'Orchard & Finch LLP' -> 'Orchard & Finch', 'Kowloon Trading Co., Ltd.' -> 'Kowloon Trading'."""
    tokens = name.split(",")[0].split()
    while len(tokens) > 1 and tokens[-1].replace(".", "").replace("/", "").lower() in {
            "inc", "corp", "corporation", "co", "company", "llc", "llp", "lp", "ltd", "gmbh", "ag", "sa", "sl",
            "spa", "plc", "bv", "ab", "as", "kk", "pty", "pc"}:
        tokens.pop()
    return " ".join(tokens)


def deal_rows(rng: random.Random, contacts: list[tuple]) -> list[tuple]:
    """The hand deals, then one deal for most other companies, cycling through every stage."""
    owners = {c[0]: c[6] for c in COMPANIES}
    names = {c[0]: c[1] for c in COMPANIES}
    rows = [(i, co, ct, n, s, a, ns, d, owners[co]) for i, co, ct, n, s, a, ns, d in HAND_DEALS]
    with_deal = {r[1] for r in rows}
    by_company: dict[int, list[int]] = {}
    for c in contacts:
        by_company.setdefault(c[5], []).append(c[0])
    next_id = len(rows) + 1
    for k, company in enumerate(c for c in COMPANIES if c[0] not in with_deal and c[0] in by_company):
        if k % 6 == 5:
            continue  # a few companies without a deal
        stage = STAGES[k % len(STAGES)]
        contact = rng.choice(by_company[company[0]])
        amount = rng.randrange(5000, 250000, 500)
        step = rng.choice(NEXT_STEPS[stage])
        when = "" if stage == "closed_lost" else (date(2026, 11, 2) + timedelta(days=rng.randrange(60))).isoformat()
        short = trading_name(names[company[0]])
        rows.append((next_id, company[0], contact, f"{short} – {rng.choice(DEAL_THEMES)}", stage, amount,
                     step, when, owners[company[0]]))
        next_id += 1
    return rows


SUMMARIES = {
    "call": ["Discovery call: current process is spreadsheets, pain is month-end reporting.",
             "Quick call on pricing; asked for a breakdown per seat.",
             "Checked in on the pilot; two integration questions for support.",
             "Call about renewal timing; budget confirmed for next quarter.",
             "Left a voicemail, then a short call back about the demo date."],
    "meeting": ["On-site meeting with the operations team; walked through the dashboard.",
                "Demo for finance and IT; security questionnaire requested.",
                "Quarterly business review; usage up, wants SSO.",
                "Workshop on data migration; agreed a field mapping."],
    "email": ["Sent the proposal PDF and the order form.",
              "Shared case study and the security whitepaper.",
              "Replied to questions on data residency (EU hosting).",
              "Confirmed the meeting time and sent the agenda."],
}


def interaction_rows(rng: random.Random, contacts: list[tuple]) -> list[tuple]:
    """One to four past interactions for most contacts, in Aug-Nov 2026 (UTC)."""
    rows = []
    start = datetime(2026, 8, 3, tzinfo=UTC)
    for contact in contacts:
        if contact[0] % 17 == 0:
            continue  # a few contacts nobody has talked to yet
        for _ in range(rng.randint(1, 4)):
            kind = rng.choice(["call", "call", "meeting", "email", "email"])
            ts = start + timedelta(days=rng.randrange(114), hours=rng.randint(8, 17), minutes=rng.choice([0, 15, 30, 45]))
            rows.append((contact[0], ts, kind, rng.choice(SUMMARIES[kind])))
    rows.sort(key=lambda r: (r[1], r[0]))
    return [(i, cid, ts.strftime("%Y-%m-%dT%H:%M:%SZ"), kind, s) for i, (cid, ts, kind, s) in enumerate(rows, 1)]


def write(path: Path, header: list[str], rows: list[tuple]) -> None:
    """Write one CSV with Unix line endings (stable diffs)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def main(out: Path = HERE) -> None:
    """Generate all four CSVs into `out` (this folder by default)."""
    rng = random.Random(SEED)
    contacts = contacts_rows(rng)
    write(out / "companies.csv", ["id", "name", "domain", "industry", "city"], [c[:5] for c in COMPANIES])
    write(out / "contacts.csv", ["id", "name", "email", "phone", "title", "company_id", "owner"], contacts)
    write(out / "deals.csv", ["id", "company_id", "contact_id", "name", "stage", "amount", "next_step",
                        "next_step_date", "owner"], deal_rows(rng, contacts))
    write(out / "interactions.csv", ["id", "contact_id", "ts", "kind", "summary"], interaction_rows(rng, contacts))


if __name__ == "__main__":
    main()
