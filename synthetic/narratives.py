"""Complaint narratives built by vectorised template filling, with planted personal data.

A narrative is assembled from parts (opener by source, personal details, the problem sentence of
its code, context, outcome, contact details, closer); each part is a template picked at random
per complaint. Typos and abbreviations are applied to the templates, then every ``{placeholder}``
is filled column-wise with Polars. Every planted personal-data string is returned so the truth
file can list it; a redacted twin ("(b)(6)", as FDA prints it) is built for MAUDE.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from synthetic import catalog
from synthetic.util import choose_index, choose_text, days_to_fmt, flat, take

LANG_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "en_us": (
        (
            "James",
            "Mary",
            "Robert",
            "Linda",
            "Michael",
            "Patricia",
            "David",
            "Jennifer",
            "William",
            "Barbara",
        ),
        (
            "Johnson",
            "Miller",
            "Davis",
            "Garcia",
            "Wilson",
            "Anderson",
            "Thompson",
            "Martinez",
            "Robinson",
            "Clark",
        ),
    ),
    "en_gb": (
        (
            "Oliver",
            "Amelia",
            "George",
            "Isla",
            "Harry",
            "Emily",
            "Jack",
            "Sophie",
            "Thomas",
            "Grace",
        ),
        (
            "Smith",
            "Jones",
            "Taylor",
            "Brown",
            "Evans",
            "Walsh",
            "Murphy",
            "Hughes",
            "Edwards",
            "O'Brien",
        ),
    ),
    "de": (
        (
            "Klaus",
            "Ursula",
            "Jürgen",
            "Monika",
            "Stefan",
            "Sabine",
            "Thomas",
            "Petra",
            "Günter",
            "Renate",
        ),
        (
            "Müller",
            "Schmidt",
            "Schneider",
            "Fischer",
            "Weber",
            "Meyer",
            "Wagner",
            "Becker",
            "Hoffmann",
            "Schäfer",
        ),
    ),
    "fr": (
        (
            "Jean",
            "Marie",
            "Pierre",
            "Françoise",
            "Michel",
            "Isabelle",
            "Philippe",
            "Nathalie",
            "Alain",
            "Hélène",
        ),
        (
            "Martin",
            "Bernard",
            "Dubois",
            "Thomas",
            "Robert",
            "Richard",
            "Petit",
            "Durand",
            "Lefèvre",
            "Moreau",
        ),
    ),
    "it": (
        (
            "Giuseppe",
            "Maria",
            "Giovanni",
            "Anna",
            "Antonio",
            "Francesca",
            "Marco",
            "Lucia",
            "Luca",
            "Giulia",
        ),
        (
            "Rossi",
            "Russo",
            "Ferrari",
            "Esposito",
            "Bianchi",
            "Romano",
            "Colombo",
            "Ricci",
            "Marino",
            "Greco",
        ),
    ),
    "es": (
        (
            "José",
            "Carmen",
            "Antonio",
            "Lucía",
            "Manuel",
            "Isabel",
            "Francisco",
            "Pilar",
            "Javier",
            "Elena",
        ),
        (
            "García",
            "Fernández",
            "González",
            "Rodríguez",
            "López",
            "Martínez",
            "Sánchez",
            "Pérez",
            "Gómez",
            "Ruiz",
        ),
    ),
    "nl": (
        ("Jan", "Anna", "Pieter", "Sanne", "Dirk", "Femke", "Willem", "Lotte", "Bram", "Eva"),
        (
            "de Jong",
            "Jansen",
            "de Vries",
            "van den Berg",
            "Bakker",
            "Visser",
            "Smit",
            "Meijer",
            "de Boer",
            "Mulder",
        ),
    ),
    "sv": (
        ("Lars", "Anna", "Erik", "Karin", "Anders", "Maria", "Johan", "Ingrid", "Nils", "Astrid"),
        (
            "Andersson",
            "Johansson",
            "Karlsson",
            "Nilsson",
            "Eriksson",
            "Larsen",
            "Hansen",
            "Virtanen",
            "Olsen",
            "Lindqvist",
        ),
    ),
    "pl": (
        (
            "Piotr",
            "Anna",
            "Krzysztof",
            "Maria",
            "Tomasz",
            "Katarzyna",
            "Paweł",
            "Agnieszka",
            "Jan",
            "Ewa",
        ),
        (
            "Nowak",
            "Kowalski",
            "Wiśniewski",
            "Wójcik",
            "Kowalczyk",
            "Kamiński",
            "Lewandowski",
            "Zieliński",
            "Novák",
            "Dvořák",
        ),
    ),
    "tr": (
        (
            "Mehmet",
            "Ayşe",
            "Mustafa",
            "Fatma",
            "Ahmet",
            "Emine",
            "Ali",
            "Hatice",
            "Hüseyin",
            "Zeynep",
        ),
        (
            "Yılmaz",
            "Kaya",
            "Demir",
            "Şahin",
            "Çelik",
            "Yıldız",
            "Aydın",
            "Öztürk",
            "Arslan",
            "Doğan",
        ),
    ),
    "ja": (
        (
            "Hiroshi",
            "Yuko",
            "Takashi",
            "Keiko",
            "Kenji",
            "Naoko",
            "Satoshi",
            "Akiko",
            "Makoto",
            "Emi",
        ),
        (
            "Sato",
            "Suzuki",
            "Takahashi",
            "Tanaka",
            "Watanabe",
            "Ito",
            "Yamamoto",
            "Nakamura",
            "Kobayashi",
            "Kato",
        ),
    ),
}

PHONE_FORMATS: dict[str, tuple[str, ...]] = {
    "en_us": (
        "({area}) 555-01{d2}",
        "{area}-555-01{d2}",
        "+1 {area} 555 01{d2}",
        "{area}.555.01{d2}",
    ),
    "en_gb": ("07700 900{d3}", "+44 7700 900{d3}", "020 7946 0{d3}"),
    "de": ("+49 151 {d4} {e4}", "0151-{d8}", "089 {d6}", "+49 (0)30 {d7}"),
    "fr": ("06 {d2} {e2} {f2} {g2}", "+33 6 {d2} {e2} {f2} {g2}"),
    "it": ("+39 34{d1} {d3} {d4}", "34{d1} {d3} {d4}"),
    "es": ("+34 6{d2} {d3} {e3}", "6{d2} {e2} {f2} {g2}"),
    "nl": ("06-{d8}", "+31 6 {d8}"),
    "sv": ("07{d1}-{d3} {d2} {e2}", "+46 7{d1} {d3} {d2} {e2}"),
    "pl": ("+48 5{d2} {d3} {e3}", "5{d2}-{d3}-{e3}"),
    "tr": ("+90 5{d2} {d3} {d2} {e2}", "05{d2} {d3} {d2} {e2}"),
    "ja": ("090-{d4}-{e4}", "+81 90 {d4} {e4}"),
}

ADDRESSES: dict[str, tuple[str, ...]] = {
    "en_us": (
        "{no} Maple Ave, Springfield, IL 62704",
        "{no} Oak Street, Apt 4B, Columbus, OH 43215",
        "{no} W 3rd St, Austin, TX 78701",
        "{no} Pine Rd, Tacoma, WA 98402",
    ),
    "en_gb": (
        "{no} Church Lane, Leeds LS6 2AB",
        "Flat 3, {no} High Street, Bristol BS1 4DJ",
        "{no} Station Road, Cork T12 X70A",
    ),
    "de": (
        "Lindenweg {no}, 80331 München",
        "Hauptstraße {no}, 50667 Köln",
        "Bahnhofstr. {no}, 8001 Zürich",
        "Gartenstraße {no}, 1010 Wien",
    ),
    "fr": (
        "{no} rue des Lilas, 69003 Lyon",
        "{no} avenue de la Gare, 1000 Bruxelles",
        "{no} boulevard Victor Hugo, 31000 Toulouse",
    ),
    "it": ("Via Roma {no}, 20121 Milano", "Via Garibaldi {no}, 10122 Torino"),
    "es": (
        "Calle Mayor {no}, 28013 Madrid",
        "Rua Augusta {no}, 1100-053 Lisboa",
        "Carrer de Balmes {no}, 08008 Barcelona",
    ),
    "nl": ("Kerkstraat {no}, 1017 GC Amsterdam", "Dorpsweg {no}, 3011 AB Rotterdam"),
    "sv": (
        "Storgatan {no}, 114 55 Stockholm",
        "Bygdøy allé {no}, 0262 Oslo",
        "Vesterbrogade {no}, 1620 København",
    ),
    "pl": ("ul. Długa {no}, 00-238 Warszawa", "Vinohradská {no}, 120 00 Praha 2"),
    "tr": ("Atatürk Cad. No:{no}, 34710 Kadıköy/İstanbul",),
    "ja": ("{no}-2-3 Shibuya, Shibuya-ku, Tokyo 150-0002",),
}

EMAIL_DOMAINS = (
    "example.com",
    "example.org",
    "example.net",
    "mail.example.com",
    "hospital.example.org",
    "web.example",
)

PII_TEMPLATES: dict[str, tuple[str, ...]] = {
    "name": (
        "Pt name: {name}.",
        "Patient {name}.",
        "pt {name}",
        "Caller: {name}.",
        "Contact person {name}.",
    ),
    "dob": ("DOB {dob}.", "born {dob}", "d.o.b. {dob}", "DOB: {dob}"),
    "mrn": ("MRN {mrn}.", "hospital no. {mrn}", "Pat.-ID {mrn}", "MRN# {mrn}"),
    "phone": ("call back on {phone}", "tel {phone}.", "ph: {phone}", "reachable at {phone}."),
    "email": ("email {email}", "reply to {email}.", "contact: {email}"),
    "address": ("pt address: {address}.", "ship replacement to {address}.", "lives at {address}."),
    "serial_number": ("SN {sn}.", "serial no. {sn}", "S/N: {sn}", "serial {sn}"),
}
PII_PROB = {
    "name": 0.20,
    "dob": 0.08,
    "mrn": 0.06,
    "phone": 0.12,
    "email": 0.08,
    "address": 0.05,
    "serial_number": 0.25,
    "doctor": 1.0,
}
PII_TYPES = ("name", "dob", "mrn", "phone", "email", "address", "serial_number")

ACCENTS = {
    "ä": "ae",
    "ö": "oe",
    "ü": "ue",
    "ß": "ss",
    "é": "e",
    "è": "e",
    "ê": "e",
    "à": "a",
    "ç": "c",
    "ñ": "n",
    "ó": "o",
    "í": "i",
    "á": "a",
    "ú": "u",
    "ø": "o",
    "å": "a",
    "ł": "l",
    "ś": "s",
    "ż": "z",
    "ğ": "g",
    "ş": "s",
    "ı": "i",
    "ř": "r",
    "č": "c",
    "Ç": "C",
    "Ş": "S",
    "Ö": "O",
    "Ü": "U",
    "'": "",
    " ": "",
}


@dataclass
class NarrativeInput:
    """Per-complaint inputs (numpy arrays / Polars series of equal length)."""

    family: np.ndarray
    code_slot: np.ndarray  # index into the family's codes
    new_mode: np.ndarray  # bool
    source: np.ndarray  # index into COMPLAINT_SOURCES
    outcome0: np.ndarray  # index into OUTCOMES (as first reported)
    outcome_final: np.ndarray
    escalated: np.ndarray  # bool
    he0_term: pl.Series  # Annex E term (lower case) of the first health effect, or ""
    he_final_term: pl.Series
    model: pl.Series  # model name
    lang: np.ndarray  # index into LANGS
    serial: pl.Series  # serial number text or ""
    followup_day: np.ndarray  # day of the triage follow-up
    change_day: np.ndarray  # day of the escalation (or -1)


@dataclass
class Narratives:
    base: pl.Series  # narrative as received (with personal data)
    followup: pl.Series  # text appended at triage ("" when none)
    escalation: pl.Series  # text appended when the outcome escalates ("" when none)
    template: pl.Series  # the same narrative with personal data redacted as "(b)(6)"
    pii: pl.DataFrame  # row (complaint position), pii_type, text


LANGS = tuple(sorted(LANG_NAMES))
DOCTOR_CONTEXT = "implanting physician Dr. {doc}."


def lang_index(lang_codes: list[str]) -> np.ndarray:
    return np.array([LANGS.index(x) for x in lang_codes], dtype=np.int64)


def build(inp: NarrativeInput, rng: np.random.Generator) -> Narratives:
    n = inp.family.size
    fams = catalog.FAMILIES
    zeros = np.zeros(n, np.int64)

    # ---- templates per part ------------------------------------------------------------------
    opener = choose_text(rng, inp.source, [catalog.OPENERS[s] for s in catalog.COMPLAINT_SOURCES])
    code_groups: list[tuple[str, ...]] = []
    lut = np.zeros((len(fams), max(len(f.codes) for f in fams)), dtype=np.int64)
    for fi, f in enumerate(fams):
        for ci, c in enumerate(f.codes):
            lut[fi, ci] = len(code_groups)
            code_groups.append(c.phrases)
    code_groups.append(catalog.NEW_MODE_PHRASES)
    grp = np.where(inp.new_mode, len(code_groups) - 1, lut[inp.family, inp.code_slot])
    problem = choose_text(rng, grp, code_groups)
    ctx_groups = [f.contexts for f in fams]
    ctx_idx = choose_index(rng, inp.family, ctx_groups)
    context = take(flat(ctx_groups), ctx_idx)
    doctor = np.array([t == DOCTOR_CONTEXT for t in flat(ctx_groups)])[ctx_idx]
    outcome = choose_text(rng, inp.outcome0, [catalog.OUTCOME_PHRASES[o] for o in catalog.OUTCOMES])
    closer = choose_text(rng, zeros, [catalog.CLOSERS])

    flags = {t: rng.random(n) < PII_PROB[t] for t in PII_TYPES}
    flags["serial_number"] &= (inp.serial != "").to_numpy()
    pii_tpl = {t: choose_text(rng, zeros, [PII_TEMPLATES[t]]) for t in PII_TYPES}
    pre_first = rng.random(n) < 0.5  # personal details right after the opener or at the end

    df = pl.DataFrame(
        {
            "opener": opener,
            "problem": problem,
            "context": context,
            "outcome": outcome,
            "closer": closer,
            "pre_first": pre_first,
            **{f"p_{t}": pii_tpl[t] for t in PII_TYPES},
            **{f"f_{t}": flags[t] for t in PII_TYPES},
        }
    )

    def part(t: str) -> pl.Expr:
        return pl.when(pl.col(f"f_{t}")).then(pl.col(f"p_{t}"))

    who = pl.concat_str([part("name"), part("dob"), part("mrn")], separator=" ", ignore_nulls=True)
    contact = pl.concat_str(
        [part("phone"), part("email"), part("address")], separator=" ", ignore_nulls=True
    )
    parts = [
        pl.col("opener"),
        pl.when(pl.col("pre_first")).then(who),
        pl.col("problem"),
        part("serial_number"),
        pl.col("context"),
        pl.col("outcome"),
        pl.when(~pl.col("pre_first")).then(who),
        contact,
        pl.col("closer"),
    ]
    tpl = df.select(
        pl.concat_str(
            [pl.when(p.str.strip_chars() == "").then(None).otherwise(p) for p in parts],
            separator=" ",
            ignore_nulls=True,
        )
        .str.replace_all(r"\s{2,}", " ")
        .str.strip_chars()
        .alias("t")
    )
    # typos and abbreviations on the template text (so the redacted twin matches)
    for i, (word, typo) in enumerate(catalog.TYPOS):
        hit = pl.Series(rng.random(n) < (0.10 if i % 3 else 0.18))
        tpl = tpl.with_columns(
            pl.when(hit)
            .then(pl.col("t").str.replace(word, typo, literal=True))
            .otherwise(pl.col("t"))
            .alias("t")
        )
    tpl = tpl.to_series()

    # ---- values for the placeholders -----------------------------------------------------------
    vals = _placeholder_values(inp, rng)
    pii_vals = _pii_values(inp, rng)
    filled = _fill(tpl, {**vals, **pii_vals})
    redacted = {
        k: (v if k == "sn" else pl.Series(["(b)(6)"] * n, dtype=pl.String))
        for k, v in pii_vals.items()
    }
    template = _fill(tpl, {**vals, **redacted})

    upper = rng.random(n) < 0.08
    base = (
        pl.DataFrame({"b": filled, "u": upper})
        .select(pl.when(pl.col("u")).then(pl.col("b").str.to_uppercase()).otherwise(pl.col("b")))
        .to_series()
    )

    # ---- personal data truth -------------------------------------------------------------------
    value_key = {
        "name": "name",
        "dob": "dob",
        "mrn": "mrn",
        "phone": "phone",
        "email": "email",
        "address": "address",
        "serial_number": "sn",
    }
    frames = []
    for t in PII_TYPES:
        idx = np.nonzero(flags[t])[0]
        frames.append(
            pl.DataFrame({"row": idx, "pii_type": t, "text": pii_vals[value_key[t]].gather(idx)})
        )
    d_idx = np.nonzero(doctor)[0]
    frames.append(
        pl.DataFrame({"row": d_idx, "pii_type": "name", "text": pii_vals["doc"].gather(d_idx)})
    )
    pii = pl.concat(frames, how="vertical_relaxed")
    up_rows = pl.Series(upper[pii["row"].to_numpy()])
    pii = pii.with_columns(up=up_rows).select(
        "row",
        "pii_type",
        pl.when(pl.col("up"))
        .then(pl.col("text").str.to_uppercase())
        .otherwise(pl.col("text"))
        .alias("text"),
    )

    # ---- follow-up and escalation texts ----------------------------------------------------------
    fu_tpl = choose_text(rng, zeros, [catalog.FOLLOWUP_PHRASES])
    has_fu = rng.random(n) < 0.30
    esc_groups = [catalog.ESCALATION_PHRASES.get(o, ("",)) for o in catalog.OUTCOMES]
    esc_tpl = choose_text(rng, inp.outcome_final, esc_groups)
    fmt_pick = rng.integers(0, 2, n)
    aux = pl.DataFrame(
        {
            "fu": fu_tpl,
            "hf": has_fu,
            "esc": esc_tpl,
            "he": inp.escalated,
            "d": inp.followup_day,
            "c": inp.change_day,
            "f": fmt_pick,
        }
    ).select(
        pl.when(pl.col("hf")).then(pl.col("fu")).otherwise(pl.lit("")).alias("fu"),
        pl.when(pl.col("he")).then(pl.col("esc")).otherwise(pl.lit("")).alias("esc"),
        pl.when(pl.col("f") == 0)
        .then(days_to_fmt(pl.col("d"), "%d/%m"))
        .otherwise(days_to_fmt(pl.col("d"), "%Y-%m-%d"))
        .fill_null("")
        .alias("fdate_fu"),
        days_to_fmt(pl.col("c"), "%d.%m.%Y").fill_null("").alias("fdate_esc"),
    )
    fu = _fill(aux["fu"], {**vals, "fdate": aux["fdate_fu"]})
    esc = _fill(aux["esc"], {**vals, "fdate": aux["fdate_esc"], "he": inp.he_final_term})
    return Narratives(base=base, followup=fu, escalation=esc, template=template, pii=pii)


def _fill(tpl: pl.Series, values: dict[str, pl.Series]) -> pl.Series:
    df = pl.DataFrame({"t": tpl, **{f"v_{k}": v for k, v in values.items()}})
    expr = pl.col("t")
    for k in values:
        expr = expr.str.replace_all("{" + k + "}", pl.col(f"v_{k}"), literal=True)
    return df.select(expr.alias("t")).to_series()


def _int_text(values: np.ndarray) -> pl.Series:
    return pl.Series(values, dtype=pl.Int64).cast(pl.String)


def _digits(rng: np.random.Generator, n: int, width: int) -> pl.Series:
    return _int_text(rng.integers(0, 10**width, n)).str.zfill(width)


def _pick(rng: np.random.Generator, n: int, options: tuple[str, ...]) -> pl.Series:
    return take(options, rng.integers(0, len(options), n))


def _placeholder_values(inp: NarrativeInput, rng: np.random.Generator) -> dict[str, pl.Series]:
    n = inp.family.size
    fams = catalog.FAMILIES
    spo2 = rng.integers(86, 100, n)
    ref = np.minimum(spo2 - rng.integers(4, 15, n), 97)
    return {
        "dev": choose_text(rng, inp.family, [f.nouns for f in fams]),
        "model": inp.model,
        "pt": _pick(rng, n, ("pt", "the patient", "pxt", "patient", "pt")),
        "drug": _pick(rng, n, catalog.DRUGS),
        "set": _int_text(rng.integers(1, 50, n) * 5) + " mL/h",
        "vol": _int_text(rng.integers(5, 300, n)),
        "num": _int_text(rng.integers(2, 10, n)),
        "hrs": _int_text(rng.integers(1, 13, n)),
        "err": _pick(rng, n, ("E-", "Err ", "ERR-", "code ")) + _int_text(rng.integers(10, 99, n)),
        "fw": _pick(rng, n, catalog.FIRMWARE),
        "asset": "BME-" + _digits(rng, n, 5),
        "age_dev": _int_text(rng.integers(1, 6, n)),
        "thr": _pick(rng, n, ("3.5", "4.0", "4.5", "5.0")),
        "hr": _int_text(rng.integers(28, 46, n)),
        "mo": _int_text(rng.integers(1, 31, n)),
        "imp": _int_text(rng.integers(15, 31, n) * 100),
        "side": _pick(rng, n, ("left", "right", "L", "R")),
        "hosp": _pick(rng, n, catalog.HOSPITAL_WORDS),
        "bmi": _int_text(rng.integers(22, 42, n)),
        "age": _int_text(rng.integers(18, 96, n)),
        "spo2": _int_text(spo2),
        "ref": _int_text(ref),
        "he": inp.he0_term,
    }


def _pii_values(inp: NarrativeInput, rng: np.random.Generator) -> dict[str, pl.Series]:
    n = inp.family.size
    li = inp.lang
    first = choose_text(rng, li, [LANG_NAMES[lg][0] for lg in LANGS])
    last = choose_text(rng, li, [LANG_NAMES[lg][1] for lg in LANGS])
    name = first + " " + last
    doc = (
        choose_text(rng, li, [LANG_NAMES[lg][0] for lg in LANGS])
        + " "
        + choose_text(rng, li, [LANG_NAMES[lg][1] for lg in LANGS])
    )

    dob_day = rng.integers(-14600, 13000, n)  # 1930 .. 2005
    fmt = rng.integers(0, 4, n)
    born = pl.col("d").cast(pl.Int32).cast(pl.Date)
    dob = (
        pl.DataFrame({"d": dob_day, "f": fmt})
        .select(
            pl.when(pl.col("f") == 0)
            .then(born.dt.strftime("%d.%m.%Y"))
            .when(pl.col("f") == 1)
            .then(born.dt.strftime("%m/%d/%Y"))
            .when(pl.col("f") == 2)
            .then(born.dt.strftime("%Y-%m-%d"))
            .otherwise(born.dt.strftime("%d/%m/%Y"))
        )
        .to_series()
    )

    letters = tuple("ABCDEFGHKMNPRSTX")
    mrn = (
        pl.DataFrame(
            {
                "f": rng.integers(0, 4, n),
                "d7": _digits(rng, n, 7),
                "d6": _digits(rng, n, 6),
                "d8": _digits(rng, n, 8),
                "l1": _pick(rng, n, letters),
                "l2": _pick(rng, n, letters),
            }
        )
        .select(
            pl.when(pl.col("f") == 0)
            .then(pl.col("d7"))
            .when(pl.col("f") == 1)
            .then(pl.concat_str([pl.col("l1"), pl.col("d6")]))
            .when(pl.col("f") == 2)
            .then(pl.concat_str([pl.col("l1"), pl.col("l2"), pl.lit("-"), pl.col("d6")]))
            .otherwise(pl.col("d8"))
        )
        .to_series()
    )

    phone = _fill(
        choose_text(rng, li, [PHONE_FORMATS[lg] for lg in LANGS]),
        {
            "area": _pick(rng, n, ("212", "312", "415", "617", "713", "305", "206", "404")),
            "d1": _digits(rng, n, 1),
            "d2": _digits(rng, n, 2),
            "e2": _digits(rng, n, 2),
            "f2": _digits(rng, n, 2),
            "g2": _digits(rng, n, 2),
            "d3": _digits(rng, n, 3),
            "e3": _digits(rng, n, 3),
            "d4": _digits(rng, n, 4),
            "e4": _digits(rng, n, 4),
            "d6": _digits(rng, n, 6),
            "d7": _digits(rng, n, 7),
            "d8": _digits(rng, n, 8),
        },
    )

    num = (
        pl.DataFrame({"u": rng.random(n), "v": rng.integers(1, 99, n)})
        .select(pl.when(pl.col("u") < 0.3).then(pl.col("v").cast(pl.String)).otherwise(pl.lit("")))
        .to_series()
    )
    email = (
        pl.DataFrame(
            {
                "a": first,
                "b": last,
                "s": _pick(rng, n, (".", "_", "", ".")),
                "n": num,
                "d": _pick(rng, n, EMAIL_DOMAINS),
            }
        )
        .select(
            pl.concat_str(
                [
                    pl.col("a").str.to_lowercase().str.replace_many(ACCENTS),
                    pl.col("s"),
                    pl.col("b").str.to_lowercase().str.replace_many(ACCENTS),
                    pl.col("n"),
                    pl.lit("@"),
                    pl.col("d"),
                ]
            )
        )
        .to_series()
    )

    address = _fill(
        choose_text(rng, li, [ADDRESSES[lg] for lg in LANGS]),
        {"no": _int_text(rng.integers(1, 180, n))},
    )
    return {
        "name": name,
        "doc": doc,
        "dob": dob,
        "mrn": mrn,
        "phone": phone,
        "email": email,
        "address": address,
        "sn": inp.serial,
    }
