"""Redaction of personal data in free-text complaint narratives, before any text reaches a report.

Pure Python (``re`` + Polars), no model downloads, deterministic. ``redact(text)`` replaces each
personal-data span with a typed token so the reader sees *what* was removed:

``[NAME]`` ``[PHONE]`` ``[EMAIL]`` ``[DOB]`` ``[DATE]`` ``[RECORD-NO]`` ``[SERIAL-NO]``
``[ID-NO]`` ``[ADDRESS]``

Rules (applied in this order; an earlier span wins over an overlapping later one):

1. **E-mail** - RFC-ish ``local@domain.tld``.
2. **Address** - (a) a cue (``address:``, ``lives at``, ``ship ... to``, ``Anschrift``,
   ``indirizzo`` ...) followed by a segment that holds a digit, up to the end of the sentence;
   (b) a number + street-type word (Street/St/Road/Rd/Avenue/Ave/Lane/Blvd/Drive/Way/Close/...),
   a street-type word + number (Via/Viale/Calle/Carrer/Rua/Avenida/ul./rue ...), or a compound
   street name + number (-straße/-strasse/-str./-weg/-gasse/-allee/-platz/-gatan/-vägen/-gade/
   -vej/-laan/-straat/-gracht/Cad./Sk. ...), or a Japanese block address (``1-2-3 Shibuya,``);
   the span is extended over following comma-separated parts (flat/apartment, postcode, city,
   region) and a leading ``Flat 3,`` / ``Apt 4B,``. UK postcodes are redacted anywhere.
3. **Dates** - numeric (d.m.y, m/d/y, y-m-d, 2- or 4-digit years) and written (``12 March 1965``,
   ``March 12, 1965``, ``12. März 1965``). *Choice*: a date preceded (within ~30 chars) by a birth
   cue (DOB, d.o.b., date of birth, born, geb., né le, nato, fecha de nacimiento, ...) becomes
   ``[DOB]``; any other full date whose year is before ``OLD_DATE_YEAR`` (2000) becomes ``[DATE]``
   (a device event that old is implausible, a birth date is likely); other dates (event, follow-up,
   escalation dates) are **kept** - they are not personal data on their own and the reader needs
   them. Partial dates without a year (``14/05``) and times (``14:30``) are kept.
4. **Record numbers** - an identifier holding a digit after a cue: MRN, MR#, medical record,
   patient ID, Pat.-ID, PID, hospital no., case no., chart no., NHS number, SSN, insurance no.,
   Fall-Nr., Patienten-ID, IPP, ID: ...
5. **Serial numbers** - an identifier holding a digit after S/N, SN, Ser. No., serial (no.),
   Seriennummer, numéro de série, matricola, número de serie, serienummer ...
6. **Kept identifiers** (protected, never redacted): lot/batch numbers (``lot L2304-117``,
   ``Charge``, ``lotto``, ``lote``) - a lot identifies a production batch, not a person;
   asset tags (``asset tag BME-12345``), UDI/GTIN (``UDI``, ``(01)...``), event dates kept by 3.
7. **Phone numbers** - ``+CC``, ``(0)``, ``(area)``, groups split by space/dot/dash, optional
   extension (``ext. 12``, ``x12``); 7-15 digits. Accepted when a cue precedes (tel, phone, ph,
   mobile, fax, call back on, reachable at, Telefon, tél ...), or the number starts with ``+``,
   ``(`` or ``0``, or it has two or more dot/dash separators, or it is a space-separated
   NANP ``312 555 0120``. Slashes and colons never join groups (blood pressure, dates, times).
8. **Uncued identifiers** - a token mixing letters and a run of 5+ digits (``VP3-00000138``,
   ``X0031490``), or a bare run of 7+ digits, becomes ``[ID-NO]``. IMDRF-style codes
   (``A0401``, ``E2207``, ``G0301205``: one letter A-G + up to 7 digits) are kept, and so are
   device model names (``OxiSense PX-10``, ``VP300``) and lots (``OX1-2303-001``) because they
   have no 5-digit run.
9. **Names** - (a) after an honorific (Mr, Mrs, Ms, Miss, Mx, Dr, Prof, Herr, Frau, Mme, Mlle,
   Sig.ra, Sr., Sra., Dott.) or a strong cue (``name:``, ``named``, ``caller:``, ``contact person``,
   ``reported by``, ``attn``): the next 1-4 name tokens (letters, apostrophes, hyphens, initials,
   particles de/van/von/der/di/da/del/le/la); (b) after a role cue (patient, pt, caller, reporter,
   nurse, physician, surgeon, wife, husband, son, daughter, ...): the same but only capitalised
   tokens (in all-caps text only when the first token is a known given name); (c) anywhere: a
   known given name followed by a capitalised non-vocabulary token (``... and Anna Kowalski
   called``). Tokens in a vocabulary of ordinary, clinical and device words stop a name. The
   given-name list (``GIVEN_NAMES``) is a hand-compiled sample of the most common given names
   in the national name statistics of the project's markets (US SSA, UK ONS, Destatis/GfdS,
   INSEE, ISTAT, INE, CBS, SCB/SSB/DST, GUS, TÜİK, Meiji Yasuda rankings); it is only a
   supplement - cue rules catch names it does not list.

``REDACTION_VERSION`` changes whenever a rule changes, so reports can say which rules were used.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import polars as pl

REDACTION_VERSION = "1.0.0"
OLD_DATE_YEAR = 2000

TOKENS = {
    "name": "[NAME]",
    "phone": "[PHONE]",
    "email": "[EMAIL]",
    "dob": "[DOB]",
    "date": "[DATE]",
    "mrn": "[RECORD-NO]",
    "serial_number": "[SERIAL-NO]",
    "id": "[ID-NO]",
    "address": "[ADDRESS]",
}


@dataclass(frozen=True, order=True)
class Span:
    start: int
    end: int
    type: str  # a key of TOKENS, or "keep" for a protected span


# ---------------------------------------------------------------------------------------------
# vocabularies
# ---------------------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return text.split()


GIVEN_NAMES: frozenset[str] = frozenset(
    x.lower()
    for x in _words(
        """
James Mary Robert Linda Michael Patricia David Jennifer William Barbara John Elizabeth Richard
Susan Joseph Jessica Charles Sarah Christopher Karen Daniel Nancy Matthew Lisa Anthony Betty
Mark Margaret Donald Sandra Steven Ashley Paul Kimberly Andrew Emily Joshua Donna Kenneth
Michelle Kevin Dorothy Brian Carol George Amanda Edward Melissa Ronald Deborah Timothy
Stephanie Jason Rebecca Jeffrey Laura Ryan Sharon Jacob Cynthia Gary Kathleen Nicholas Amy Eric
Shirley Jonathan Angela Stephen Helen Larry Anna Justin Brenda Scott Pamela Brandon Nicole
Frank Emma Benjamin Samantha Gregory Katherine Samuel Christine Raymond Debra Patrick Rachel
Alexander Catherine Jack Carolyn Dennis Janet Jerry Ruth Tyler Maria Aaron Heather Henry Diane
Douglas Virginia Peter Julie Jose Joyce Adam Victoria Zachary Olivia Walter Kelly Nathan
Christina Harold Lauren Kyle Joan Carl Evelyn Arthur Judith Gerald Megan Roger Cheryl Keith
Andrea Jeremy Hannah Terry Martha Lawrence Jacqueline Sean Frances Christian Gloria Albert Ann
Joe Teresa Ethan Kathryn Austin Sara Jesse Janice Willie Jean Billy Alice Bryan Madison Bruce
Doris Jordan Abigail Ralph Julia Roy Judy Noah Grace Dylan Denise Eugene Amber Wayne Marilyn
Alan Beverly Juan Danielle Louis Theresa Russell Sophia Gabriel Marie Randy Diana Philip
Brittany Harry Natalie Vincent Isabella Bobby Charlotte Johnny Rose Logan Alexis Oliver Amelia
Isla Ava Mia Leo Freya Thomas Sophie Poppy Ella Lily Evie Alfie Archie Muhammad Oscar Charlie
Ivy Florence Arlo Klaus Ursula Jürgen Monika Stefan Sabine Petra Günter Gunter Renate Hans
Wolfgang Uwe Dieter Helmut Gerhard Manfred Werner Horst Heinz Karl Andreas Markus Sebastian
Tobias Lukas Jonas Felix Maximilian Leon Finn Ben Elias Heike Birgit Claudia Susanne Karin
Gabriele Martina Angelika Brigitte Ingrid Gisela Helga Erika Christa Katharina Lena Leonie
Emilia Mila Lina Jan Jens Jörg Sven Kai Dirk Uta Ute Bernd Pierre Françoise Michel Isabelle
Philippe Nathalie Alain Hélène Nicolas Christophe Sylvie Sandrine Valérie Céline Stéphanie
Julien Sébastien Laurent Olivier Frédéric François Jacques Bernard Raphaël Jules Hugo Lucas Léa
Chloé Manon Camille Inès Jade Louise Giuseppe Giovanni Antonio Francesca Marco Lucia Luca
Giulia Mario Luigi Angelo Vincenzo Pietro Salvatore Carlo Franco Domenico Bruno Paolo
Alessandro Matteo Lorenzo Leonardo Federico Sofia Aurora Ginevra Alessia Chiara Elena Paola
Rosa Giovanna José Carmen Manuel Isabel Francisco Pilar Javier Lucía Dolores Josefa Antonia
Jesús Alejandro Miguel Rafael Pedro Ángel Pablo Sergio Fernando Jorge Alberto Carlos Marta
Cristina Raquel Rocío Daniela Paula Pieter Sanne Femke Willem Lotte Bram Eva Daan Sem Levi Luuk
Thijs Joost Maarten Bas Ruud Sander Kees Henk Gerrit Johannes Cornelis Hendrik Anouk Fleur
Lieke Iris Tess Lars Erik Anders Johan Nils Astrid Per Olof Gustav Magnus Mats Björn Bjorn Ulf
Henrik Mikael Fredrik Kristina Birgitta Elisabeth Margareta Kerstin Ebba Elsa Saga Maja Alva
Freja Ole Søren Mette Hanne Inge Kirsten Niels Mads Ida Frida Matti Mikko Juha Aino Piotr
Krzysztof Tomasz Katarzyna Paweł Pawel Agnieszka Ewa Andrzej Marek Michał Jakub Marcin Grzegorz
Małgorzata Joanna Magdalena Zofia Józef Stanisław Kazimierz Wojciech Jiří Josef Jana Petr Pavel
Lucie Tereza Mehmet Ayşe Mustafa Fatma Ahmet Emine Ali Hatice Hüseyin Zeynep Hasan İbrahim
Ibrahim Ismail Yusuf Murat Ömer Elif Meryem Şerife Sultan Hacer Merve Hiroshi Yuko Takashi
Keiko Kenji Naoko Satoshi Akiko Makoto Emi Haruto Yuto Sota Yui Hina Akira Kazuki Daiki Takumi
Yuki Yoko Kazuko Hiroko Tomoko Megumi Ayumi Sakura Ren Minato Riku Mohammed Mohamed Ahmed
Fatima Aisha Omar Hassan Yasmin Priya Raj Wei Li Ming
"""
    )
)

# Words that are never part of a person's name here (lower case): function words, report words,
# clinical, device and organisation words likely to follow a cue ("Patient Safety", "Dr. Office").
VOCAB: frozenset[str] = frozenset(
    _words(
        """
a an the and or but of to in on at for with by from into onto over under after before during is
was were be been being are am has had have having do did does not no yes ok okay none nil this
that these those it its he she his her him they them their we our you your i me my who whom
which what when where why how all any some each every other another same such only also very
too so then than there here as if while via per about again still just now soon later reported
reports reporting report reporter called calls calling call states stated says said noted notes
observed found discovered complained complains complaint complaints mentioned informed advised
confirmed denied requested requests wants wanted would will could can may might should must
need needs needed needing required requires experienced experiencing developed name named names
id nr number record records chart case file details detail info information patient patients pt
pts pat pxt caller callers contact contacts person persons customer customers user users staff
nurse nurses physician physicians surgeon surgeons doctor doctors dr clinician clinicians
technician technicians engineer engineers biomed pharmacist therapist family member members
wife husband son daughter mother father parent parents spouse partner relative relatives friend
caregiver carer team ward unit department dept clinic hospital hospitals center centre centers
office practice pharmacy home site facility lab laboratory icu er ed ot picu nicu ccu ambulance
emergency theatre theater surgery safety quality risk management sales service support
distributor distributors manufacturer company purchasing device devices pump pumps infusion
monitor monitors sensor sensors probe probes lead leads stem implant implants pacemaker
catheter battery batteries alarm alarms display screen reading readings error errors code codes
software firmware model models lot batch serial asset tag udi email e-mail mail phone tel
telephone mobile fax address born dob mrn sn update updated replacement photos photo urgent fu
follow-up followup requesting product add added please pls thanks regards note attached event
unknown unk unspecified na n/a tbd pending outcome outcomes events harm injury death died
deceased fine stable well good better worse alive admitted discharged hospitalised hospitalized
transferred treated recovered revision replaced returned explanted approx approximately around
near mr mrs ms miss mx prof herr frau mme mlle sig sr sra dott
"""
    )
)

PARTICLES = frozenset(
    _words(
        """
de da di del della der den van von ter ten le la du dos das des y zu af bin ibn al el st ní nic
ó ua ap ben bat op
"""
    )
)
PARTICLE_PREFIXES = ("o'", "o’", "mc", "mac", "d'", "d’")

# ---------------------------------------------------------------------------------------------
# patterns
# ---------------------------------------------------------------------------------------------

_I = re.IGNORECASE
_L = r"[^\W\d_]"  # any letter (unicode)

EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)

# -- dates --
_MONTHS = (
    r"jan(?:uary|uar|vier|naio|uari)?|feb(?:ruary|ruar|braio|rero|ruari)?|f[ée]v(?:rier)?|"
    r"m[aä]r(?:ch|z|s|zo)?|apr(?:il|ile)?|avr(?:il)?|abr(?:il)?|may|mai|mag(?:gio)?|mayo|mei|"
    r"jun(?:e|i|io|ho)?|juin|giu(?:gno)?|jul(?:y|i|io|ho)?|juil(?:let)?|lug(?:lio)?|"
    r"aug(?:ust|usti|ustus)?|ao[uû]t|ago(?:sto)?|sep(?:t|tember|tembre|tiembre)?|set(?:tembre)?|"
    r"oct(?:ober|obre|ubre)?|okt(?:ober)?|ott(?:obre)?|nov(?:ember|embre|iembre)?|"
    r"dec(?:ember)?|dez(?:ember)?|d[ée]c(?:embre)?|dic(?:iembre|embre)?"
)
DATE_RE = re.compile(
    r"(?<![\w/.-])(?:"
    r"(?P<d1>\d{1,2})[./-](?P<m1>\d{1,2})[./-](?P<y1>\d{4}|\d{2})"
    r"|(?P<y2>\d{4})[./-](?P<m2>\d{1,2})[./-](?P<d2>\d{1,2})"
    rf"|\d{{1,2}}(?:st|nd|rd|th|\.)?\s*(?:{_MONTHS})\.?,?\s*(?P<y3>\d{{4}})"
    rf"|(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+(?P<y4>\d{{4}})"
    r")(?![\w/-]|\.\d)",
    _I,
)
DOB_CUE_RE = re.compile(
    r"(?:\bd\.?\s?o\.?\s?b\b\.?|\bdate\s+of\s+birth|\bbirth\s*date|\bbirthday|\bborn\b|\bbirth\b"
    r"|\bgeb\.|\bgeboren\b|\bgeburtsdatum|\bgeb\.-?datum|\bn[ée]e?\s+le\b|\bdate\s+de\s+naissance"
    r"|\bnat[oa]\b|\bdata\s+di\s+nascita|\bnacid[oa]\b|\bfecha\s+de\s+nacimiento|\bf\.\s?nac\b"
    r"|\bf[öo]delsedatum|\bf[öo]dd\b|\bgeboortedatum|\burodzon[ya]\b|\bdata\s+urodzenia"
    r"|\bdo[ğg]um\b|\bdob)[^\d]{0,20}$",  # the cue, then no other number, then the date
    _I,
)

# -- addresses --
_STREET_EN = (
    r"street|st|road|rd|avenue|ave|av|lane|ln|boulevard|blvd|drive|dr|way|court|ct|place|pl|"
    r"terrace|close|crescent|cres|square|sq|parkway|pkwy|highway|hwy|row|mews|hill|gardens|"
    r"grove|walk|circle|cir|trail|park"
)
_CAPWORD = rf"(?:[A-Z0-9ÄÖÜÉÈÀ]{_L}*|of|the|de|la|du|des)"
ADDR_NUM_FIRST_RE = re.compile(
    rf"(?<![\w/.-])\d{{1,5}}[A-Za-z]?,?\s+(?:[NSEWnsew]\.?\s+)?(?:{_CAPWORD}\s+){{0,3}}"
    rf"(?i:{_STREET_EN})\b\.?",
)
ADDR_NUM_FIRST_ROMANCE_RE = re.compile(
    r"(?<![\w/.-])\d{1,5}[a-z]?,?\s+(?:bis\s+|ter\s+)?(?:rue|avenue|av\.|boulevard|bd|bld|place|"
    r"chemin|all[ée]e|impasse|quai|route|cours|square)\s+(?:[\w'’.-]+\s+){0,4}?[\w'’-]+"
    r"(?=\s*[,.;]|\s*$)",
    _I,
)
ADDR_TYPE_FIRST_RE = re.compile(
    r"\b(?:via|viale|piazza|piazzale|corso|vicolo|calle|carrer|rua|avenida|av\.|plaza|paseo|"
    r"pra[çc]a|travessa|ul\.|ulica|al\.|aleja|pl\.|rue|strada)\s+(?=[^\W\d_])"
    r"(?:[\w'’-]+\s+){0,4}?"
    r"(?:n\.?\s?|nº\s?|no\.?\s?)?\d{1,5}[a-zA-Z]?\b",
    _I,
)
_COMPOUND = (
    r"stra(?:ß|ss)e|str\.|weg|gasse|allee|all[ée]|platz|ring|damm|ufer|chaussee|"
    r"gatan|v[äa]gen|gr[äa]nd|torget|gade|gate|vej|veien|laan|straat|gracht|plein|kade|"
    r"steeg|singel|dreef|cad\.|caddesi|sok\.|soka[ğg]ı|sk\.|bulvar[ıi]"
)
# "word number" pairs; the word must end in a street-type suffix (checked in Python: fast)
ADDR_WORD_NUM_RE = re.compile(
    r"(?<![\w'’-])([^\W\d_][\w'’-]*\.?)(?:\s+No:?)?\s*\d{1,5}[a-zA-Z]?\b",
)
ADDR_SUFFIX_RE = re.compile(rf"{_L}(?:{_COMPOUND})$", _I)
ADDR_COMPOUND_SPLIT_RE = re.compile(
    rf"\b[A-ZÄÖÜØÅÆ]{_L}+\s+(?i:stra(?:ß|ss)e|str\.|weg|gasse|allee|all[ée]|platz|laan|straat|"
    r"gate|gata|vej|v[äa]g|gade|caddesi|cad\.|sokak)(?:\s+No:?)?\s*\d{1,5}[a-zA-Z]?\b",
)
ADDR_JP_RE = re.compile(
    r"(?<![\w/.-])\d{1,4}-\d{1,3}-\d{1,3}\s+[A-Z][^\W\d_]+(?=,|-(?:ku|shi|cho|machi)\b)"
)
ADDR_CUE_RE = re.compile(
    r"\b(?:home\s+address|address|addr\.|lives\s+at|living\s+at|resid(?:es|ing)\s+at|"
    r"ship(?:ped|ping)?\s+(?:[\w-]+\s+){0,2}?to|mail(?:ed)?\s+to|"
    r"adresse|anschrift|wohnhaft(?:\s+in)?|domicilio|indirizzo|direcci[óo]n|adres|adress)\b\s*:?\s*",
    _I,
)
UK_POSTCODE_RE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2}\b")
_ADDR_PREFIX_RE = re.compile(
    r"(?:\b(?:flat|apt|apartment|unit|suite|ste|wohnung|whg|piso|appartement|app)\.?\s*[\w-]{1,5}"
    r",?\s*)$",
    _I,
)
_ADDR_PART_RE = re.compile(
    r"\s*,\s*(?:(?:apt|apartment|flat|suite|ste|unit|fl|floor|wohnung|whg|piso|app)\.?\s*[\w-]{1,5}"
    r"|(?:[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2})"  # UK postcode
    r"|(?:[A-Z]{2}\s+\d{5}(?:-\d{4})?)"  # US state + ZIP
    r"|(?:(?:[A-Z]{1,3}-)?\d{2,5}(?:[\s-]\d{2,4})?(?:\s+[A-Z]{2})?\s+[A-ZÄÖÜÅØÆÇŞİ][\w'’/-]*"
    r"(?:\s+(?:[A-ZÄÖÜÅØÆÇŞİ0-9][\w'’/-]*|am|an|im|sur|de)){0,2})"
    r"|(?:[A-ZÄÖÜÅØÆÇŞİ][\w'’/-]*(?:\s+(?:[A-ZÄÖÜÅØÆÇŞİ0-9][\w'’/-]*|de|del|la|sur|am|an|im)){0,3})"
    r")"
)

# -- record and serial numbers --
_IDTOK = r"(?=[\w/.-]*\d)[A-Za-z0-9][\w/-]*(?:\.[\w-]+)*[A-Za-z0-9]"
RECORD_RE = re.compile(
    r"(?:\bMRN|\bM\.R\.N\.?|\bMR\s?#|\bmedical\s+record(?:\s+(?:no\.?|number|nr\.?|#))?"
    r"|\brecord\s+(?:no\.?|number|nr\.?|#)|\bpatient\s+(?:id|no\.?|number|nr\.?|#)"
    r"|\bpat(?:ient)?\.?\s?-?\s?(?:id|nr\.?)|\bPID|\bhospital\s+(?:no\.?|number|nr\.?|#|id)"
    r"|\bhosp\.?\s+no\.?|\bcase\s+(?:no\.?|number|nr\.?|#|id)|\bchart\s+(?:no\.?|number|nr\.?|#)"
    r"|\bNHS\s+(?:no\.?|number)|\bSSN|\bsocial\s+security\s+(?:no\.?|number)"
    r"|\binsurance\s+(?:no\.?|number|id)|\bmember\s+id|\baccount\s+(?:no\.?|number)"
    r"|\bfall-?nr\.?|\bfallnummer|\bpatienten-?(?:nr\.?|nummer|id)|\bversicherten-?nr\.?"
    r"|\bIPP|\bn°\s*(?:de\s+)?dossier|\bnumero\s+(?:di\s+)?cartella|\bhistoria\s+cl[íi]nica"
    r"|\bNHC|\bpersonnummer|\bBSN|\bPESEL|\bTC\s+kimlik|\bID)"
    r"\b[\s:#.=-]*(?:no\.?\s*|nr\.?\s*|number\s*)?"
    rf"(?P<id>\d{{1,4}}(?:\s\d{{2,4}}){{1,3}}(?![\w-])|{_IDTOK})",
    _I,
)
SERIAL_RE = re.compile(
    r"(?:\bS/N|\bSN|\bser\.?\s?no\.?|\bserial(?:\s+(?:no\.?|number|nr\.?|#))?"
    r"|\bserien-?(?:nr\.?|nummer)|\bseriennr\.?|\bnum[ée]ro\s+de\s+s[ée]rie|\bn°\s*de\s+s[ée]rie"
    r"|\bmatricola|\bn[úu]mero\s+de\s+serie|\bn\.?º?\s?de\s+serie|\bserienummer|\bserienr\.?"
    r"|\bseri\s+no)"
    rf"(?:\b|(?<=\.))[\s:#.=-]*(?P<id>\d{{1,4}}(?:\s\d{{2,4}}){{1,3}}(?![\w-])|{_IDTOK})",
    _I,
)
KEEP_RE = re.compile(
    r"(?:\blot(?:\s+(?:no\.?|number|nr\.?|#))?|\bLOT#|\bbatch(?:\s+(?:no\.?|number))?|\bcharge"
    r"|\bch\.-?b\.|\blotto|\blote|\bpartij|\basset(?:\s+tag)?|\binventory(?:\s+no\.?)?"
    r"|\binventar(?:-?nr\.?)?|\bUDI(?:-DI)?|\bGTIN|\bREF|\bcat(?:alog(?:ue)?)?\.?\s?(?:no\.?|#))"
    rf"\b[\s:#.=-]*(?:{_IDTOK})"
    r"|\(01\)\d{14}(?:\(\d{2,4}\)[\w-]+)*",
    _I,
)

# -- phones --
PHONE_RE = re.compile(
    r"(?<![\w+/.:-])(?:\+\d{1,3}[\s.-]?)?(?:\(0\)\s?)?(?:\(\d{1,5}\)\s?)?\d{1,15}(?:[\s.-]\d{1,8}){0,5}"
    r"(?:\s?(?:ext\.?|x|#|Durchwahl|poste)\s?\d{1,5})?(?![\w/:-]|[.,]\d)",
    _I,
)
PHONE_CUE_RE = re.compile(
    r"(?:\btel(?:ephone)?|\bphone|\bph|\bmob(?:ile)?|\bcell|\bfax|\bcall(?:ed)?(?:\s+back)?"
    r"|\breach(?:able)?|\bcontact(?:\s+(?:no|number|nr))?|\bt[ée]l|\btelefon|\btelefono"
    r"|\btel[ée]fono|\btlf|\btfn|\bhandy|\bnumber|\bnumero|\bn[úu]mero|\bnummer|\bnr|\bno)"
    r"\b\.?[\s:#.]*(?:(?:back\s+)?(?:on|at|to|:)\s*)?$",
    _I,
)

# -- uncued identifiers --
ID_TOKEN_RE = re.compile(r"(?<![\w./-])[A-Za-z0-9]+(?:[-/][A-Za-z0-9]+)*(?![\w-]|/\w)")
_DIGIT_RUN5 = re.compile(r"\d{5,}")
_IMDRF = re.compile(r"[A-Ga-g]\d{2,7}")
_BARE_DIGITS_RE = re.compile(r"(?<![\w.,/:-])\d{7,}(?![\w/-]|[.,]\d)")

# -- names --
_HONORIFIC = (
    r"mr|mrs|ms|mx|miss|dr|prof|herr|frau|hr|fr|mme|mlle|madame|monsieur|sig|sig\.ra|sig\.na|"
    r"signora|signor|sr|sra|srta|don|do[ñn]a|dott|dott\.ssa|dr\.med|pani|pan|bay|bayan|sayın"
)
NAME_STRONG_RE = re.compile(
    rf"(?:\b(?:{_HONORIFIC})\b\.?\s*"
    r"|\bname(?:d|s)?\b(?:\s+(?:is|was))?\s*[:=-]?\s*"
    r"|\b(?:caller|reporter|contact|contact\s+person|reported\s+by|called\s+by|submitted\s+by"
    r"|complaint\s+by|attn|attention|signed|from|requested\s+by|spoke\s+(?:to|with)"
    r"|per)\s*:\s*"
    r"|\b(?:contact\s+person|ansprechpartner(?:in)?|reported\s+by|called\s+by|submitted\s+by"
    r"|attn\.?|signed|spoke\s+(?:to|with))\s+)",
    _I,
)
NAME_ROLE_RE = re.compile(
    r"\b(?:patient|pt|pat|pts|caller|reporter|customer|user|contact|nurse|sister|rn|physician"
    r"|surgeon|doctor|clinician|technician|engineer|biomed|pharmacist|wife|husband|son|daughter"
    r"|mother|father|spouse|partner|relative|caregiver|carer|patientin|patient(?:e|a)|paziente"
    r"|paciente|pflegekraft|arzt|ärztin|chirurg|infirmi[eè]re?|m[ée]decin|enfermer[oa]"
    r"|infermier[ea]|hasta|hemşire|doktor)\b\.?\s+",
    _I,
)
NAME_TOKEN_RE = re.compile(r"\s*([^\W\d_](?:[\w'’-]*[^\W\d_])?(?!\w)\.?)", re.UNICODE)
GIVEN_NAME_RE = re.compile(r"(?<![\w'’-])[A-ZÀ-ÖØ-ÞĀ-Ž][^\W\d_]+(?![\w'’-])")


# ---------------------------------------------------------------------------------------------
# detectors
# ---------------------------------------------------------------------------------------------


def _is_caps(text: str) -> bool:
    up = sum(1 for c in text if c.isupper())
    low = sum(1 for c in text if c.islower())
    return up > 3 * max(low, 1)


def _date_spans(text: str) -> list[Span]:
    out = []
    for m in DATE_RE.finditer(text):
        s, e = m.span()
        window = text[max(0, s - 32) : s]
        if DOB_CUE_RE.search(window):
            out.append(Span(s, e, "dob"))
            continue
        y = m.group("y1") or m.group("y2") or m.group("y3") or m.group("y4")
        if y is not None and len(y) == 4 and int(y) < OLD_DATE_YEAR:
            out.append(Span(s, e, "date"))
        else:
            if m.group("y1") and len(m.group("y1")) == 2 and DOB_CUE_RE.search(window):
                out.append(Span(s, e, "dob"))
            out.append(Span(s, e, "keep"))
    return out


def _sentence_end(text: str, pos: int, limit: int = 110) -> int:
    """Index of the end of the sentence that starts at `pos` (abbreviation dots don't end it)."""
    stop = min(len(text), pos + limit)
    i = pos
    while i < stop:
        c = text[i]
        if c in ";!?\n":
            return i
        if c == "." and (i + 1 >= len(text) or text[i + 1].isspace()):
            word = re.search(r"(\w+)$", text[pos:i])
            w = word.group(1).lower() if word else ""
            if w not in {
                "st",
                "str",
                "ave",
                "av",
                "rd",
                "cad",
                "ul",
                "no",
                "apt",
                "dr",
                "blvd",
            } and (not (len(w) == 1 and w.isalpha())):
                return i
        i += 1
    return stop


def _extend_address(text: str, s: int, e: int) -> tuple[int, int]:
    pre = _ADDR_PREFIX_RE.search(text[max(0, s - 25) : s])
    if pre:
        s = s - (len(text[max(0, s - 25) : s]) - pre.start())
    for _ in range(4):
        m = _ADDR_PART_RE.match(text, e)
        if not m:
            break
        e = m.end()
    # "Atatürk Cad. No:12" style tails and "Tokyo 150-0002" postcodes
    m = re.match(r"\s+\d{3}-\d{4}\b", text[e:])
    if m:
        e += m.end()
    return s, e


def _address_spans(text: str) -> list[Span]:
    out = []
    for m in ADDR_CUE_RE.finditer(text):
        start = m.end()
        end = _sentence_end(text, start)
        seg = text[start:end]
        if re.search(r"\d", seg) and not EMAIL_RE.fullmatch(seg.strip()):
            out.append(Span(start, end, "address"))
    for m in ADDR_WORD_NUM_RE.finditer(text):
        if ADDR_SUFFIX_RE.search(m.group(1)):
            out.append(Span(*_extend_address(text, *m.span()), "address"))
    for rx in (
        ADDR_NUM_FIRST_RE,
        ADDR_NUM_FIRST_ROMANCE_RE,
        ADDR_TYPE_FIRST_RE,
        ADDR_COMPOUND_SPLIT_RE,
        ADDR_JP_RE,
    ):
        for m in rx.finditer(text):
            s, e = _extend_address(text, *m.span())
            out.append(Span(s, e, "address"))
    for m in UK_POSTCODE_RE.finditer(text):
        out.append(Span(*m.span(), "address"))
    return out


def _phone_ok(val: str, cued: bool) -> bool:
    digits = sum(c.isdigit() for c in val)
    if not 6 <= digits <= 16:
        return False
    seps = re.findall(r"[\s.-]", re.sub(r"\s?(?:ext\.?|x|#)\s?\d+$", "", val, flags=_I))
    if cued or val[0] in "+(0":
        return digits >= 7 or cued
    if set(seps) <= {" "}:
        return bool(re.fullmatch(r"\d{3} \d{3} \d{4}", val))
    return len(seps) >= 2 or (digits >= 8 and len(seps) >= 1)


def _phone_spans(text: str) -> list[Span]:
    """Phone numbers: every run of digit groups from a match's start that the rules accept,
    longest first. A match that runs on into what follows (``404.555.0164 10.04.2026``: a phone,
    then a date) also offers its shorter cuts, so that when the longer one overlaps a span that
    ranks before phones (a date), the phone alone is still found."""
    out = []
    for m in PHONE_RE.finditer(text):
        s = m.start()
        cued = bool(PHONE_CUE_RE.search(text[max(0, s - 30) : s]))
        val = m.group(0).rstrip(" .-")
        while val:
            if _phone_ok(val, cued):
                out.append(Span(s, s + len(val), "phone"))
            cut = max(val.rfind(" "), val.rfind("."), val.rfind("-"))
            val = val[:cut].rstrip(" .-") if cut > 0 else ""
    return out


def _id_spans(text: str) -> list[Span]:
    out = []
    for m in ID_TOKEN_RE.finditer(text):
        tok = m.group(0)
        if not _DIGIT_RUN5.search(tok) or _IMDRF.fullmatch(tok):
            continue
        if tok.isdigit() and len(tok) < 7:
            continue
        out.append(Span(*m.span(), "id"))
    for m in _BARE_DIGITS_RE.finditer(text):
        out.append(Span(*m.span(), "id"))
    return out


def _name_ok(tok: str, caps: bool, strict: bool | str) -> bool:
    """Can `tok` be part of a name? strict=True: capitalised with lower-case letters (Title),
    strict="title": starts upper case (Title or ALL CAPS), strict=False: anything not a word."""
    low = tok.lower().rstrip(".")
    if low in VOCAB or not low:
        return False
    if caps or not strict:
        return True
    if tok.isupper() and len(tok.rstrip(".")) <= 3:
        return False  # BP, FU, ICU: abbreviations, not names, in mixed-case text
    if strict == "title":
        return tok[0].isupper()
    return tok[0].isupper() and (len(tok) <= 2 or any(c.islower() for c in tok[1:]))


def _take_name(text: str, pos: int, caps: bool, strict: bool | str, need_given: bool) -> int | None:
    """End of the name that starts at `pos`, or None: up to 4 words plus initials and particles,
    nothing but spaces between them."""
    end = None
    n = 0
    words: list[str] = []  # name tokens taken so far (no particles)
    i = pos
    while n < 7 and len(words) < 4:
        m = NAME_TOKEN_RE.match(text, i)
        if not m:
            break
        tok = m.group(1)
        low = tok.lower().rstrip(".")
        gap = text[i : m.start(1)]
        if n and gap.strip():
            break
        nxt = text[m.end() : m.end() + 1]
        if nxt == "@" or (nxt[:1].isalnum() and tok.endswith(".")) or (nxt != "" and nxt in "_+"):
            break  # part of an e-mail address or a domain, not a name
        if n == 0 and need_given and low not in GIVEN_NAMES:
            return None
        if n and (low in PARTICLES or low.startswith(PARTICLE_PREFIXES)) and not tok.endswith("."):
            i = m.end()
            n += 1
            if low.startswith(PARTICLE_PREFIXES) and _name_ok(tok, caps, strict):
                end = m.end()
            continue
        is_initial = len(low) == 1 and tok.endswith(".") and tok[0].isupper()
        if not is_initial and (tok.endswith(".") and n and low not in GIVEN_NAMES):
            # a dot ends the sentence: the token still belongs to the name, nothing after it
            if _name_ok(tok[:-1], caps, strict):
                end = m.start(1) + len(tok) - 1
            break
        if not (is_initial or _name_ok(tok.rstrip("."), caps, strict)):
            break
        if len(words) >= 2 and words[-1] not in GIVEN_NAMES and not is_initial:
            break  # a third word only after a double given name ("Anna Maria Kowalska")
        if not is_initial:
            words.append(low)
        end = m.start(1) + len(tok.rstrip(".")) if not is_initial else m.end()
        i = m.end()
        n += 1
        if tok.endswith(".") and not is_initial:
            break
    return end


def _name_spans(text: str) -> list[Span]:
    out = []

    def local_caps(pos: int) -> bool:  # narratives mix all-caps parts and normal follow-ups
        before = text[max(0, pos - 20) : pos]
        word = re.match(r"\s*([^\W\d_]+)", text[pos : pos + 40])
        return (
            not any(c.islower() for c in before)
            and word is not None
            and word.group(1).isupper()
            and len(word.group(1)) > 1
        )

    for m in NAME_STRONG_RE.finditer(text):
        caps = local_caps(m.end())
        cue = m.group(0).lower()
        weak = not re.search(r"name|[:.]|\b(?:mr|mrs|ms|mx|miss|dr|prof|herr|frau)\b", cue)
        e = _take_name(text, m.end(), caps, strict="title", need_given=caps and weak)
        if e is not None and e > m.end():
            out.append(Span(m.end(), e, "name"))
    for m in NAME_ROLE_RE.finditer(text):
        caps = local_caps(m.end())
        e = _take_name(text, m.end(), caps, strict=not caps, need_given=caps)
        if e is not None and e > m.end():
            out.append(Span(m.end(), e, "name"))
    for m in GIVEN_NAME_RE.finditer(text):
        tok = m.group(0)
        if tok.lower() not in GIVEN_NAMES:
            continue
        caps = local_caps(m.start())
        if not (caps or tok[0].isupper()):
            continue
        e = _take_name(text, m.start(), caps, strict=not caps, need_given=True)
        if e is not None and e > m.end():  # a given name plus at least one more name token
            out.append(Span(m.start(), e, "name"))
    return out


_ORDER = ("email", "address", "dob", "mrn", "serial_number", "keep", "phone", "id", "name")


def find_personal_data(text: str) -> list[Span]:
    """All personal-data spans in `text`, non-overlapping, sorted by position."""
    if not text:
        return []
    cands: dict[str, list[Span]] = {k: [] for k in _ORDER}
    cands["email"] = [Span(*m.span(), "email") for m in EMAIL_RE.finditer(text)]
    cands["address"] = _address_spans(text)
    dates = _date_spans(text)
    cands["dob"] = [d for d in dates if d.type in ("dob", "date")]
    cands["mrn"] = [Span(*m.span("id"), "mrn") for m in RECORD_RE.finditer(text)]
    cands["serial_number"] = [
        Span(*m.span("id"), "serial_number") for m in SERIAL_RE.finditer(text)
    ]
    cands["keep"] = [d for d in dates if d.type == "keep"] + [
        Span(*m.span(), "keep") for m in KEEP_RE.finditer(text)
    ]
    cands["phone"] = _phone_spans(text)
    cands["id"] = _id_spans(text)
    cands["name"] = _name_spans(text)

    taken: list[Span] = []
    for kind in _ORDER:
        for sp in sorted(cands[kind], key=lambda x: (x.start, -x.end)):
            if sp.end <= sp.start:
                continue
            if any(sp.start < t.end and t.start < sp.end for t in taken):
                continue
            taken.append(sp)
    return sorted(t for t in taken if t.type != "keep")


def redact(text: str | None) -> str | None:
    """`text` with every personal-data span replaced by its token (``[NAME]``, ``[PHONE]`` ...)."""
    if text is None:
        return None
    spans = find_personal_data(text)
    if not spans:
        return text
    parts = []
    pos = 0
    for sp in spans:
        parts.append(text[pos : sp.start])
        parts.append(TOKENS[sp.type])
        pos = sp.end
    parts.append(text[pos:])
    return "".join(parts)


def redact_series(texts: pl.Series) -> pl.Series:
    """Redact a String Series; each distinct text is redacted once (versions repeat narratives)."""
    uniq = texts.unique().drop_nulls()
    mapping = dict(zip(uniq.to_list(), (redact(t) for t in uniq.to_list()), strict=True))
    return texts.replace_strict(mapping, default=None, return_dtype=pl.String).alias(texts.name)


def redact_expr(expr: pl.Expr | str) -> pl.Expr:
    """Polars expression form: ``df.with_columns(redact_expr("description"))``."""
    e = pl.col(expr) if isinstance(expr, str) else expr
    return e.map_batches(redact_series, return_dtype=pl.String)


# ---------------------------------------------------------------------------------------------
# leak check
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Leak:
    complaint_id: str
    pii_type: str
    text: str
    found: str  # the part of the planted value still present


_NUMBER_RUN_RE = re.compile(r"\d[\d\s().+/-]*\d")


def _digits(s: str) -> str:
    return re.sub(r"\D", "", s)


def leaks(
    redacted_texts: Mapping[str, str | Iterable[str]],
    planted: Iterable[tuple[str, str, str]],
) -> list[Leak]:
    """Planted personal data still present in the redacted texts of its complaint.

    `redacted_texts` maps complaint_id to one text or several (e.g. every version's description).
    A value leaks when it occurs case-insensitively; phones also when their digit-only form occurs
    in the text's digit-only form; names when any name token of 3+ letters occurs as a whole word.
    """
    out: list[Leak] = []
    for cid, ptype, value in planted:
        got = redacted_texts.get(cid)
        if got is None or not value:
            continue
        texts = [got] if isinstance(got, str) else [t for t in got if t]
        for t in texts:
            low = t.lower()
            hit = value if value.lower() in low else None
            if hit is None and ptype == "phone":
                d = _digits(value)
                runs = (_digits(r) for r in _NUMBER_RUN_RE.findall(t))
                if len(d) >= 6 and any(d in r for r in runs):
                    hit = d
            if hit is None and ptype == "name":
                for tok in re.split(r"[\s]+", value):
                    tok = tok.strip(".,")
                    if len(tok) >= 3 and re.search(rf"(?<!\w){re.escape(tok.lower())}(?!\w)", low):
                        hit = tok
                        break
            if hit is not None:
                out.append(Leak(cid, ptype, value, hit))
                break
    return out
