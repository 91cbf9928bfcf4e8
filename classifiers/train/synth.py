"""Generated benign rows: everyday messages with personal data, short fragments, JSON/code-ish strings.

Real traffic carries things the source corpora lack: one-word replies and fragments, users sharing
their own card numbers, IBANs, phone numbers and addresses, and JSON/code wrapped around ordinary text.
Without them the heads learn "short / odd / contains numbers" = attack. Everything here is built
deterministically (fixed seeds, built-in lists); fake values are shaped like the real thing
(Luhn-valid card numbers, IBANs with valid mod-97 check digits) but belong to nobody.

Sources (all labelled benign, split with the same stratified split as the corpora):
- presidio-templates: every template of presidio-evaluator==0.3.2 templates.txt, FILLINGS fillings each.
- generated-fragments: 1-6 word spans cut from benign corpus rows.
- chatterbot-short: bot-side (odd) turns of chatterbot-corpus with at most 6 words.
- generated-pii: benign corpus rows with personal data prefixed or appended ("my email is ...").
- generated-json: benign corpus rows wrapped as JSON objects, code calls, key=value or CSV lines.
"""
import json
import random
import re

SEED = 7331
FILLINGS = 4
N_FRAGMENTS = 2000
N_KEYWORD_FRAGMENTS = 800
# words that injections use too; benign rows use them all the time ("write a prompt for...", "assembly
# instructions"), so the heads must see benign fragments centred on them
KEYWORDS = re.compile(r"\b(?:prompts?|instructions?|system|ignore[sd]?|rules?|commands?|previous|above|"
                      r"forget|pretend|act as|role|override|secret|password|admin|developer|mode|kill|attack|"
                      r"exploit|shoot|hack)\b", re.I)
N_PII = 1500
N_JSON = 800

FIRST = ["Anna", "Liam", "Sofia", "Mateo", "Aiko", "Kwame", "Priya", "Lukas", "Chloe", "Omar", "Ingrid", "Diego",
         "Mei", "Tomasz", "Fatima", "Jonas", "Lucia", "Ravi", "Emma", "Noah", "Yara", "Hugo", "Zanele", "Pavel",
         "Elif", "Marcus", "Nora", "Kenji", "Amara", "Felix", "Leila", "Sean", "Olga", "Tariq", "Greta", "Bruno"]
LAST = ["Okafor", "Schmidt", "Rossi", "Nakamura", "Garcia", "Novak", "Johansson", "Patel", "Dubois", "Kowalski",
        "Haddad", "Silva", "Murphy", "Chen", "Andersen", "Moreau", "Brennan", "Yilmaz", "Costa", "Lindqvist",
        "Mensah", "Ivanova", "Fischer", "Alvarez", "Tanaka", "O'Neill", "Varga", "Hosseini", "Keller", "Mwangi"]
STREETS = ["Maple Avenue", "Station Road", "Hauptstrasse", "Rue de la Paix", "Via Roma", "Elm Street", "Church Lane",
           "Kingsway", "Calle Mayor", "Oak Drive", "Harbour View", "Mill Road", "Birch Close", "Parkweg", "High Street"]
CITIES = ["Springfield", "Leeds", "Munich", "Lyon", "Turin", "Austin", "Porto", "Gdansk", "Osaka", "Nairobi",
          "Toronto", "Aarhus", "Valencia", "Utrecht", "Brisbane", "Cork", "Denver", "Graz"]
COUNTRIES = ["Germany", "France", "Italy", "Spain", "Canada", "Japan", "Kenya", "Poland", "Ireland", "Brazil",
             "Australia", "Netherlands", "Sweden", "India", "Mexico", "Austria", "Portugal", "Norway"]
NATIONALITIES = ["German", "French", "Italian", "Spanish", "Canadian", "Japanese", "Kenyan", "Polish", "Irish",
                 "Brazilian", "Indian", "Mexican", "Dutch", "Swedish"]
ORGS = ["Northwind Traders", "Acme Logistics", "Bluebird Bank", "Greenfield Dental", "Contoso Ltd", "Harbor Health",
        "Summit Insurance", "Lakeside Library", "Riverbend Motors", "Pinecrest Telecom", "Orbit Airlines"]
JOBS = ["nurse", "teacher", "software engineer", "accountant", "electrician", "pharmacist", "chef", "architect"]
DOMAINS = ["example.com", "mailbox.org", "post.example.net", "inbox.example.org", "web.example.de", "corp.example.io"]
STATES = ["CA", "TX", "NY", "WA", "IL", "FL", "CO", "MA"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "March", "April", "June", "July", "September", "October", "December"]
IBAN_LEN = {"DE": 22, "FR": 27, "GB": 22, "NL": 18, "ES": 24, "IT": 27, "BE": 16, "AT": 20, "CH": 21, "IE": 22}


def luhn_card(rng: random.Random) -> str:
    prefix, length = rng.choice([("4", 16), ("51", 16), ("53", 16), ("55", 16), ("2221", 16), ("37", 15),
                                 ("6011", 16), ("4", 13)])
    digits = [int(c) for c in prefix] + [rng.randrange(10) for _ in range(length - len(prefix) - 1)]
    total = 0
    for i, d in enumerate(reversed(digits)):      # the check digit will sit to the right
        if i % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    s = "".join(map(str, digits)) + str((10 - total % 10) % 10)
    style = rng.randrange(3)
    if style == 0 or length != 16:
        return s
    return (" " if style == 1 else "-").join(s[i:i + 4] for i in range(0, 16, 4))


def iban(rng: random.Random) -> str:
    cc = rng.choice(sorted(IBAN_LEN))
    bban = "".join(str(rng.randrange(10)) for _ in range(IBAN_LEN[cc] - 4))
    num = int("".join(str(int(c, 36)) for c in bban + cc + "00"))
    s = f"{cc}{98 - num % 97:02d}{bban}"
    return " ".join(s[i:i + 4] for i in range(0, len(s), 4)) if rng.random() < 0.6 else s


def phone(rng: random.Random) -> str:
    d = lambda n: "".join(str(rng.randrange(10)) for _ in range(n))  # noqa: E731
    return rng.choice([f"+1 ({d(3)}) {d(3)}-{d(4)}", f"{d(3)}-{d(3)}-{d(4)}", f"+44 20 {d(4)} {d(4)}",
                       f"+49 30 {d(7)}", f"0{d(3)} {d(3)} {d(4)}", f"+33 6 {d(2)} {d(2)} {d(2)} {d(2)}",
                       f"({d(3)}) {d(3)} {d(4)}", f"+91 {d(5)} {d(5)}", f"{d(3)}.{d(3)}.{d(4)}"])


def fake(slot: str, rng: random.Random) -> str:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    d = lambda n: "".join(str(rng.randrange(10)) for _ in range(n))  # noqa: E731
    street = f"{rng.randrange(1, 300)} {rng.choice(STREETS)}"
    slot = slot.lower()
    if slot in ("person", "name", "name_female", "name_male"):
        return f"{first} {last}"
    if slot.startswith("first_name"):
        return first
    if slot.startswith("last_name"):
        return last
    if slot.startswith("prefix"):
        return rng.choice(["Mr.", "Ms.", "Dr.", "Mrs.", "Mx."])
    if slot == "credit_card_number":
        return luhn_card(rng)
    if slot == "iban":
        return iban(rng)
    if slot == "phone_number":
        return phone(rng)
    if slot == "email":
        return f"{first.lower()}.{last.lower().replace(chr(39), '')}{rng.choice(['', d(2)])}@{rng.choice(DOMAINS)}"
    if slot == "address":
        return f"{street}, {rng.choice(CITIES)} {d(5)}"
    if slot == "street_name":
        return rng.choice(STREETS)
    if slot == "building_number":
        return str(rng.randrange(1, 300))
    if slot == "secondary_address":
        return rng.choice([f"Apt {rng.randrange(1, 40)}{rng.choice('ABCD')}", f"Suite {d(3)}", f"Flat {d(1)}"])
    if slot == "city":
        return rng.choice(CITIES)
    if slot == "country":
        return rng.choice(COUNTRIES)
    if slot in ("nationality", "nation_woman"):
        return rng.choice(NATIONALITIES)
    if slot == "nation_plural":
        return rng.choice(NATIONALITIES) + "s"
    if slot == "organization":
        return rng.choice(ORGS)
    if slot == "job":
        return rng.choice(JOBS)
    if slot == "age":
        return str(rng.randrange(18, 90))
    if slot == "year":
        return str(rng.randrange(1950, 2026))
    if slot in ("postcode", "zipcode"):
        return d(5)
    if slot == "url":
        return f"https://www.{rng.choice(DOMAINS)}/{rng.choice(['account', 'help', 'orders', 'profile'])}"
    if slot == "date_of_birth":
        return f"{rng.randrange(1, 29)} {rng.choice(MONTHS)} {rng.randrange(1950, 2005)}"
    if slot == "date_time":
        return f"{rng.choice(MONTHS)} {rng.randrange(1, 29)} at {rng.randrange(1, 12)}:{rng.choice(['00', '15', '30'])}"
    if slot == "ip_address":
        return ".".join(str(rng.randrange(1, 255)) for _ in range(4))
    if slot == "ssn":
        return f"{d(3)}-{d(2)}-{d(4)}"
    if slot == "state_abbr":
        return rng.choice(STATES)
    if slot == "day_of_week":
        return rng.choice(DAYS)
    if slot == "us_driver_license":
        return rng.choice("ABCDEFGHJKLMNPRSTW") + d(7)
    return f"{first} {last}"


def presidio(templates: list[str]) -> list[str]:
    rng = random.Random(SEED)
    out = []
    for t in templates:
        for _ in range(FILLINGS if "{{" in t else 1):
            out.append(re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: fake(m.group(1), rng), t))
    return out


def fragments(benign: list[str]) -> list[str]:
    rng = random.Random(SEED + 1)
    out = []
    for _ in range(N_FRAGMENTS):
        words = rng.choice(benign).split()
        n = min(len(words), rng.choice([1, 1, 2, 2, 3, 3, 4, 5, 6]))
        a = rng.randrange(len(words) - n + 1)
        frag = " ".join(words[a:a + n]).strip(" ,;:(\"'")
        if rng.random() < 0.3:
            frag = frag.rstrip(".?!") + rng.choice(["", ".", "?", "!"])
        out.append(frag)
    with_kw = [t for t in benign if KEYWORDS.search(t)]
    for _ in range(N_KEYWORD_FRAGMENTS):
        text = rng.choice(with_kw)
        hits = list(KEYWORDS.finditer(text))
        m = hits[rng.randrange(len(hits))]
        words_before, words_after = text[:m.start()].split(), text[m.end():].split()
        b, a = rng.randrange(0, 4), rng.randrange(0, 4)
        frag = " ".join(words_before[len(words_before) - b:] if b else [])
        frag = (frag + " " + m.group(0) + " " + " ".join(words_after[:a])).strip(" ,;:(\"'")
        out.append(frag)
    return out


PII_PREFIX = ["My email is {email}. ", "Hi, this is {name} ({phone}). ", "From: {name} <{email}>\n",
              "Card ending {last4}. ", "Order for {name}, {address}: ", "Ref {ref}: ", "Account {iban} - ",
              "{name} here, call me on {phone}. ", "Customer ID {ref}, card {card}. "]
PII_SUFFIX = [" My email is {email}.", " You can reach me at {phone}.", " Call me at {phone} if anything is unclear.",
              " Thanks, {name}", "\n\n{name}\n{phone}\n{email}", " Please send it to {address}.",
              " My card number is {card}.", " Transfer to IBAN {iban} please.", " (ticket {ref})",
              " Reply to {email} or {phone}.", " SSN on file: {ssn}.", " Best regards, {name}, {org}"]


def pii_values(rng: random.Random) -> dict:
    return {"email": fake("email", rng), "name": fake("name", rng), "phone": phone(rng), "address": fake("address", rng),
            "card": luhn_card(rng), "iban": iban(rng), "ssn": fake("ssn", rng), "org": fake("organization", rng),
            "last4": str(rng.randrange(1000, 10000)), "ref": f"{rng.choice('ABCDEFGHKLMNPRSTX')}{rng.randrange(10**5, 10**7)}"}


def with_pii(benign: list[str]) -> list[str]:
    rng = random.Random(SEED + 2)
    out = []
    for _ in range(N_PII):
        text, v = rng.choice(benign), pii_values(rng)
        if rng.random() < 0.3:          # short message around the personal data: a 1-5 word span
            words = text.split()
            n = min(len(words), rng.randrange(1, 6))
            a = rng.randrange(len(words) - n + 1)
            text = " ".join(words[a:a + n]).strip(" ,;:(\"'.?!")
        r = rng.random()
        if r < 0.4:
            text = rng.choice(PII_PREFIX).format(**v) + text
        elif r < 0.85:
            text = text + rng.choice(PII_SUFFIX).format(**v)
        else:
            text = rng.choice(PII_PREFIX).format(**v) + text + rng.choice(PII_SUFFIX).format(**v)
        out.append(text)
    return out


def jsonish(benign: list[str]) -> list[str]:
    rng = random.Random(SEED + 3)
    out = []
    for _ in range(N_JSON):
        text, v = rng.choice(benign), pii_values(rng)
        q = json.dumps(text, ensure_ascii=False)
        kind = rng.randrange(8)
        if kind == 0:
            out.append(json.dumps({"role": "user", "content": text}, ensure_ascii=False))
        elif kind == 1:
            out.append(json.dumps({"id": rng.randrange(1, 99999), "message": text, "email": v["email"],
                                   "created": f"2024-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"},
                                  ensure_ascii=False))
        elif kind == 2:
            out.append(f"print({q})")
        elif kind == 3:
            out.append(f"const msg = {q};")
        elif kind == 4:
            out.append(f"curl -X POST https://api.example.com/v1/notes -H 'Content-Type: application/json' "
                       f"-d '{json.dumps({'text': text}, ensure_ascii=False)}'")
        elif kind == 5:
            out.append(f"name={v['name']}; phone={v['phone']}; note={text}")
        elif kind == 6:
            out.append(f"{rng.randrange(1, 5000)},{v['name']},{v['email']},{q}")
        else:
            out.append(json.dumps({"ticket": v["ref"], "customer": {"name": v["name"], "phone": v["phone"]},
                                   "items": [{"sku": f"SKU-{rng.randrange(1000, 9999)}", "qty": rng.randrange(1, 5)}],
                                   "comment": text}, ensure_ascii=False))
    return out
