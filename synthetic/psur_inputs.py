"""What people keep for the PSUR: `fsca/`, `capa/` and `psur_inputs/` (data contract, optional).

MDCG 2022-21 asks a PSUR for the field safety corrective actions of the period, the corrective
and preventive actions, and texts people write: the literature review, registries and
databases, the main PMCF findings and the status of the actions the previous PSUR decided.
Here, per device family of the catalog:

- `fsca/fsca_register_<extract>.csv`: 0-2 FSCAs (1-2 for a family with an `fsca_decision` of
  synthetic/vigilance_plant.py, whose FSCA starts on that decision's day), tied to the family's
  device type and, where a planted signal fits, to that signal (`signal_id` as a person names
  it: `scope:scope_value:code`) and its lots; lots otherwise from the family's generated lots
  (those carrying one supplier lot of a part, or one lot) or empty ("all units");
- `capa/capa_register_<extract>.csv`: 1-4 CAPAs, one per FSCA (source `fsca`) and the others
  from the family's complaints, trends, audits and nonconformities;
- `psur_inputs/psur_inputs_<period end>.csv`: the four texts for the PSUR period the reports
  cover on the demo night, except one left out on purpose (`LEFT_OUT`).

Every draw comes from streams of its own (`psur-fsca`, `psur-capa`, `psur-inputs`), so this
writer changes no byte of any other file of the landing folder for the same seed. Texts are
invented, short and plain; the only names are role-tagged authors.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from synthetic import catalog
from synthetic.distribution import Portfolio, Supply
from synthetic.scales import AS_OF, EXTRACT_DATE
from synthetic.util import date_of, day, stream, write_csv
from synthetic.vigilance_plant import FSCA_CLASS_I, FSCA_CLASS_III

FSCA_COLUMNS = (
    "fsca_id",
    "device_family",
    "started_on",
    "action_type",
    "reason",
    "device_models",
    "lots",
    "countries",
    "fsn_reference",
    "status",
    "closed_on",
    "signal_id",
)
CAPA_COLUMNS = (
    "capa_id",
    "device_family",
    "opened_on",
    "source",
    "problem",
    "root_cause",
    "actions",
    "status",
    "closed_on",
    "effectiveness",
)
PSUR_INPUT_COLUMNS = (
    "device_family",
    "section",
    "period_end",
    "text",
    "source",
    "author",
    "updated_on",
)

# The PSUR period the reports cover on the demo night: the pipeline's defaults in
# config/pipeline.toml ([reports] data_collection_start = 2024-10-01; [reports.period_months]
# 12 months for class I, IIb and III, 24 for IIa), the latest period complete by AS_OF. Computed
# here on its own, as the pipeline's report code must not be imported by the generator.
DATA_COLLECTION_START = dt.date(2024, 10, 1)
PERIOD_MONTHS = {"I": 12, "IIa": 24, "IIb": 12, "III": 12}

# One text left out on purpose, so the report shows what is missing and who supplies it:
# OxiSense's PMCF findings (its PMCF evaluation report is not finished by the data lock point).
LEFT_OUT = (("OxiSense", "pmcf"),)

CLINICAL_AUTHORS = (
    "M. Weber (Clinical Affairs)",
    "L. Hoffmann (Clinical Affairs)",
    "S. Yilmaz (Clinical Affairs)",
)
PMS_AUTHORS = ("T. Richter (PMS)", "A. Novak (PMS)")


def psur_period(eu_class: str, as_of: dt.date = AS_OF) -> tuple[dt.date, dt.date]:
    """(first day, last day) of the latest PSUR period of `eu_class` complete by `as_of`."""
    months = PERIOD_MONTHS[eu_class]
    first = DATA_COLLECTION_START.year * 12 + DATA_COLLECTION_START.month - 1
    done = (as_of.year * 12 + as_of.month - 1) - first
    if (as_of + dt.timedelta(days=1)).day == 1:  # the month of as_of is complete
        done += 1
    last = first + max(done // months, 1) * months  # the month after the period
    end = dt.date(last // 12, last % 12 + 1, 1) - dt.timedelta(days=1)
    start = (end.year * 12 + end.month - 1) - (months - 1)
    return dt.date(start // 12, start % 12 + 1, 1), end


# --------------------------------------------------------------------------------------------
# FSCA and CAPA templates
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fsca:
    """One kind of FSCA a family may need. `lots`: `part` (the production lots carrying one
    supplier lot of `part`), `one_lot` (a single lot of the first model) or `none` (all units).
    `signal`: the planted signal kind it answers when that signal is planted in the world.
    `fixed`: the (model, day) of an `fsca_decision` of vigilance_plant.py: always present,
    started that day, open."""

    family: str
    action_type: str
    models: tuple[str, ...]
    reason: str  # {component_lot} and {lot} are filled in
    short: str  # the problem in a few words (the CAPA behind it)
    capa_root_cause: str
    capa_actions: str
    capa_effectiveness: str
    lots: str = "none"
    part: str = ""
    signal: str = ""
    fixed: tuple[str, str] | None = None


FSCAS: tuple[Fsca, ...] = (
    Fsca(
        "Infusa",
        "exchange",
        ("Infusa VP300", "Infusa VP350"),
        "Battery packs of supplier lot {component_lot} lose capacity early; a pump running on "
        "battery may stop during transport. The battery packs of the affected pumps are "
        "exchanged by field service.",
        "early capacity loss of battery packs",
        "Cells of one supplier lot were stored above the specified temperature before assembly.",
        "Capacity test of every battery pack lot at incoming inspection; supplier storage "
        "conditions audited.",
        "No early battery depletion reported for packs of later supplier lots.",
        lots="part",
        part="BP",
        signal="bad_component_lot",
    ),
    Fsca(
        "Infusa",
        "software_update",
        ("Infusa VP350",),
        "After a drug library update over Wi-Fi, software 4.1.x may accept a concentration "
        "outside its hard limit. Field service installs the corrected software 4.1.3.",
        "hard limits not enforced after a library update",
        "The library import skipped the limit check for entries changed in the update.",
        "Import logic corrected and regression tests added for library updates.",
        "Verification of 200 updated pumps found every hard limit enforced.",
    ),
    Fsca(
        "Cardiolink",
        "advice_on_use",
        ("Cardiolink DR 2200", "Cardiolink SR 1200"),
        "Generators built with battery cells of supplier lot {component_lot} may reach the "
        "elective replacement indicator earlier than labelled. Physicians are advised to follow "
        "these patients every three months.",
        "early elective replacement indicator",
        "Higher self-discharge of one lot of lithium cells from a change of the supplier's "
        "electrolyte filling line.",
        "Supplier change notification made mandatory; self-discharge screening of each cell lot.",
        "Remaining capacity of screened cell lots within specification.",
        lots="part",
        part="LI",
    ),
    Fsca(
        "Cardiolink",
        "software_update",
        ("Cardiolink DR 2200",),
        "Remote monitoring transmissions may be delayed by up to 72 hours after a time-zone "
        "change of the bedside transmitter. A transmitter software update corrects the clock "
        "handling.",
        "delayed remote monitoring transmissions",
        "The transmitter scheduled transmissions in local time without a time-zone offset.",
        "Transmitter software schedules in UTC; test cases for time-zone changes added.",
        "No delayed transmission since the update.",
    ),
    Fsca(
        "Aurelia",
        "return",
        ("Aurelia C Stem",),
        "Early aseptic loosening of cemented stem sizes 3 and 4, with revision surgery reported "
        "abroad. Unused stems of both sizes are returned; implanted patients stay in routine "
        "follow-up.",
        "early loosening of two cemented stem sizes",
        "",
        "Investigation of the stem geometry and cementing instructions of sizes 3 and 4.",
        "",
        fixed=FSCA_CLASS_III,
    ),
    Fsca(
        "Aurelia",
        "return",
        ("Aurelia Shell",),
        "The sterile blister of shells made with liners of supplier lot {component_lot} may be "
        "damaged at the seal. Unused implants of the affected lots are returned and replaced.",
        "damaged sterile barrier of shells",
        "Seal width below specification after a temperature drift of one sealing line.",
        "In-process monitoring of sealing temperature; seal width test on every lot.",
        "Seal width within specification on every lot since the change.",
        lots="part",
        part="PE",
    ),
    Fsca(
        "OxiSense",
        "return",
        ("OxiSense PX10",),
        "Oximeters of lot {lot} may read SpO2 falsely high at low saturation. Unused devices of "
        "the lot are returned and replaced.",
        "falsely high SpO2 readings of one lot",
        "Sensor modules of the lot were calibrated with a faulty reference.",
        "Calibration reference checked before each lot; sensor module calibration audit at the "
        "supplier.",
        "Accuracy of the following lots verified within specification.",
        lots="one_lot",
        signal="bad_lot",
    ),
    Fsca(
        "OxiSense",
        "software_update",
        ("OxiSense PX40", "OxiSense PX10"),
        "After standby the display may freeze on the last reading while the pulse is still "
        "measured. Firmware 2.3.1 corrects this; users install it with the update tool.",
        "display frozen after standby",
        "A display refresh task was not restarted after wake-up from standby.",
        "Firmware corrected; wake-up tests added to the release test plan.",
        "No frozen display reported with firmware 2.3.1.",
        signal="narrative_new_mode",
    ),
    Fsca(
        "Stride",
        "retrofit",
        ("Stride Active",),
        "The backrest frame clamp may loosen and the backrest fold during use; falls were "
        "reported abroad. A clamp with a locking screw is fitted to all units.",
        "loosening backrest clamp",
        "",
        "Design review of the clamp; locking screw clamp released for production and retrofit.",
        "",
        fixed=FSCA_CLASS_I,
    ),
    Fsca(
        "Stride",
        "exchange",
        ("Stride Lite",),
        "Brake levers of supplier lot {component_lot} may crack under load. The brake levers of "
        "the affected chairs are exchanged.",
        "cracking brake levers",
        "Porosity of die-cast levers from one supplier lot.",
        "X-ray sampling of every brake lever lot at incoming inspection.",
        "No cracked lever reported for later lots.",
        lots="part",
        part="BR",
    ),
)


@dataclass(frozen=True)
class Capa:
    family: str
    source: str
    problem: str
    root_cause: str
    actions: str
    effectiveness: str


CAPAS: tuple[Capa, ...] = (
    Capa(
        "Infusa",
        "complaint",
        "Complaints of nuisance occlusion alarms on Infusa VP300 pumps at flow rates below 5 mL/h.",
        "The downstream occlusion threshold was too close to the back pressure of small-bore "
        "extension sets.",
        "Threshold table revised in software 4.1.2; service bulletin to biomedical engineering.",
        "Occlusion alarm complaints back to the expected rate six months after the change.",
    ),
    Capa(
        "Infusa",
        "audit",
        "Notified body audit: service reports of repaired pumps did not always record the "
        "installed software version.",
        "The service report template had no mandatory software version field.",
        "Field made mandatory; field service technicians retrained.",
        "A sample of 50 later service reports was complete.",
    ),
    Capa(
        "Infusa",
        "nonconformity",
        "Door latch springs of one tooling batch out of tolerance at final inspection of the "
        "Infusa SP200.",
        "Wear of the spring forming tool at the supplier.",
        "Assemblies reworked before release; tool wear check added to the supplier's control plan.",
        "No latch spring nonconformity in the next 20 production lots.",
    ),
    Capa(
        "Cardiolink",
        "trend",
        "Rising rate of loss-of-telemetry complaints with the remote monitor of the Cardiolink "
        "DR 2200.",
        "Pairing timeout of the bedside transmitter too short for some home routers.",
        "Transmitter firmware with a longer timeout; patient instructions revised.",
        "Telemetry complaints back to the expected rate.",
    ),
    Capa(
        "Cardiolink",
        "complaint",
        "Complaints of difficult lead fixation with the TF52 helix in trabeculated ventricles.",
        "Helix extension torque at the upper end of the specification for one helix lot.",
        "Torque limit tightened at incoming inspection; implanting physicians informed.",
        "No further complaint of this kind in nine months.",
    ),
    Capa(
        "Cardiolink",
        "audit",
        "Internal audit: the lead's biocompatibility file did not cite the current steroid "
        "supplier certificate.",
        "Certificate renewals were not routed to the owner of the design history file.",
        "Certificate tracking added to the supplier management procedure.",
        "Two later renewals were filed on time.",
    ),
    Capa(
        "Aurelia",
        "complaint",
        "Complaints of squeaking articulation with the Aurelia Shell.",
        "Liner not fully seated with worn impactors of one instrument set generation.",
        "Impactors of that generation replaced; seating check added to the surgical technique.",
        "No squeaking complaint linked to the new impactors.",
    ),
    Capa(
        "Aurelia",
        "audit",
        "Notified body audit: size labels of stem trials and implants were hard to tell apart on "
        "the instrument tray.",
        "Label layout did not follow the usability specification.",
        "Tray labels redesigned and checked in a formative usability test.",
        "Summative usability test passed with no size mix-up.",
    ),
    Capa(
        "Aurelia",
        "nonconformity",
        "Surface roughness of hydroxyapatite coating below specification on retained samples.",
        "Spray gun distance drifted after maintenance of the coating line.",
        "Fixture for the spray gun distance; roughness measured on every coating batch.",
        "All coating batches since the change within specification.",
    ),
    Capa(
        "OxiSense",
        "trend",
        "Trend of inaccurate SpO2 readings on OxiSense PX10 lots made in spring 2025.",
        "Calibration drift of sensor modules after a change of the supplier's LED batch.",
        "Calibration check of every sensor module lot at incoming inspection; supplier change "
        "control tightened.",
        "Inaccurate-reading complaints of later lots at the expected rate.",
    ),
    Capa(
        "OxiSense",
        "complaint",
        "Complaints of short battery life of the OxiSense PX40 in continuous monitoring.",
        "Display backlight left at full brightness after alarms.",
        "Firmware dims the backlight after alarms; instructions for use updated.",
        "Battery complaints fell by more than half after the update.",
    ),
    Capa(
        "OxiSense",
        "nonconformity",
        "Finger clip spring force out of tolerance in one supplier lot of PX10 housings.",
        "The supplier used spring wire of the wrong gauge.",
        "Lot rejected; wire gauge check added at the supplier.",
        "No recurrence in 12 later housing lots.",
    ),
    Capa(
        "Stride",
        "trend",
        "Rising rate of caster and wheel complaints on the Stride Lite.",
        "Caster bearings of one supplier wear early in outdoor use.",
        "Sealed bearings specified; service kits offered at the next maintenance.",
        "Caster complaints of chairs with sealed bearings at the expected rate.",
    ),
    Capa(
        "Stride",
        "complaint",
        "Complaints of the Stride Lite folding mechanism jamming.",
        "Hinge tolerance stack-up with powder coating at the upper thickness limit.",
        "Coating thickness limit tightened; hinge pin diameter adjusted.",
        "No jamming complaint for chairs made after the change.",
    ),
    Capa(
        "Stride",
        "audit",
        "Internal audit: two language versions of the user manual lacked the latest warning on "
        "kerb descent.",
        "Translation updates were not triggered by a change of the master manual.",
        "Document control links translations to the master; manuals updated.",
        "Audit follow-up found every language version current.",
    ),
)


# --------------------------------------------------------------------------------------------
# texts for the PSUR
# --------------------------------------------------------------------------------------------

# (section, family) -> (text, source, author group); {start}, {end}, {prev_end}, {a}, {b} are
# filled in ({a}, {b}: counts drawn from the stream)
TEXTS: dict[tuple[str, str], tuple[str, str, tuple[str, ...]]] = {
    ("literature", "Infusa"): (
        "Search of PubMed and Embase for volumetric and syringe infusion pumps, {start} to "
        "{end}: {a} records screened, {b} relevant. They report medication errors mostly linked "
        "to programming and drug libraries; none describes a hazard missing from the risk "
        "management file. The benefit-risk conclusion of the clinical evaluation is unchanged.",
        "Literature search protocol LSP-INF-04",
        CLINICAL_AUTHORS,
    ),
    ("literature", "Cardiolink"): (
        "Search of PubMed, Embase and the Cochrane Library for single- and dual-chamber "
        "pacemakers and active-fixation leads, {start} to {end}: {a} records screened, {b} "
        "relevant. Reported rates of lead dislodgement, pocket complications and early battery "
        "depletion match the state of the art and the risk management file. No new risk was "
        "identified.",
        "Literature search protocol LSP-CRM-03",
        CLINICAL_AUTHORS,
    ),
    ("literature", "Aurelia"): (
        "Search of PubMed and Embase for cementless and cemented femoral stems and porous "
        "acetabular shells, {start} to {end}: {a} records screened, {b} relevant. Revision "
        "rates of comparable designs match the benchmark of the clinical evaluation. Case "
        "series on early loosening of cemented polished stems are part of the ongoing "
        "investigation of the Aurelia C Stem.",
        "Literature search protocol LSP-HIP-05",
        CLINICAL_AUTHORS,
    ),
    ("literature", "OxiSense"): (
        "Search of PubMed and Embase for pulse oximetry accuracy, {start} to {end}: {a} records "
        "screened, {b} relevant. Several discuss lower accuracy at low saturation and with dark "
        "skin pigmentation; the labelling states the accuracy range and the topic is in the "
        "PMCF plan. No other new risk was identified.",
        "Literature search protocol LSP-OXI-02",
        CLINICAL_AUTHORS,
    ),
    ("literature", "Stride"): (
        "Search of PubMed and CINAHL for manual wheelchairs, {start} to {end}: {a} records "
        "screened, {b} relevant. They concern tip-over and fall risks and propulsion "
        "ergonomics; falls with a loosened backrest clamp are handled by the ongoing field "
        "action. No other new risk was identified.",
        "Literature search protocol LSP-STR-02",
        CLINICAL_AUTHORS,
    ),
    ("registries", "Infusa"): (
        "No device registry covers infusion pumps. FDA MAUDE (product code FRN) and the field "
        "safety notices published by competent authorities were searched for {start} to {end}; "
        "the events found match failure modes already in the risk management file.",
        "Database search record DBS-INF-2026",
        CLINICAL_AUTHORS,
    ),
    ("registries", "Cardiolink"): (
        "Two national pacemaker registries report survival of the Cardiolink generators and "
        "TF52 leads comparable to the other devices they follow. Neither raised an outlier "
        "alert for the family in the period {start} to {end}.",
        "Registry extracts REG-CRM-2026-01 and REG-CRM-2026-02",
        CLINICAL_AUTHORS,
    ),
    ("registries", "Aurelia"): (
        "Two national arthroplasty registries report the Aurelia HA Stem and Aurelia Shell with "
        "revision rates within their benchmark. The Aurelia C Stem has too few registered "
        "implantations for an estimate; no registry flagged it as an outlier.",
        "Registry reports REG-HIP-2026-01 and REG-HIP-2026-02",
        CLINICAL_AUTHORS,
    ),
    ("registries", "OxiSense"): (
        "No registry covers pulse oximeters. FDA MAUDE (product code DQA) was searched for "
        "{start} to {end}; inaccurate readings are reported more often for fingertip oximeters "
        "of all makers, which the trend analysis of this PSUR takes into account.",
        "Database search record DBS-OXI-2026",
        CLINICAL_AUTHORS,
    ),
    ("registries", "Stride"): (
        "No registry covers manual wheelchairs. FDA MAUDE (product code IOR) and published field "
        "safety notices were searched for {start} to {end}; the events concern falls and brake "
        "failures of comparable chairs, all covered by the risk management file.",
        "Database search record DBS-STR-2026",
        CLINICAL_AUTHORS,
    ),
    ("pmcf", "Infusa"): (
        "The PMCF user survey (plan PMCF-INF-01) collected feedback on {a} pumps in {b} "
        "hospitals. Users rated drug library and alarms fit for purpose; nuisance occlusion "
        "alarms at low flow were the most frequent remark and went to complaint handling. No "
        "new risk was identified.",
        "PMCF evaluation report PMCF-INF-01-R3",
        CLINICAL_AUTHORS,
    ),
    ("pmcf", "Cardiolink"): (
        "The PMCF study PMCF-CRM-02 follows {a} patients; {b} reached the 12-month visit in the "
        "period. Capture thresholds and lead impedances stayed stable and complication rates "
        "are within the study's acceptance criteria. No new risk was identified.",
        "PMCF evaluation report PMCF-CRM-02-R2",
        CLINICAL_AUTHORS,
    ),
    ("pmcf", "Aurelia"): (
        "The PMCF cohort PMCF-HIP-01 follows {a} patients with the Aurelia HA Stem and Shell; "
        "{b} reached the 2-year visit in the period. Hip scores improved as expected and no "
        "revision for aseptic loosening occurred. The C Stem joins the cohort with the next PMCF "
        "plan revision.",
        "PMCF evaluation report PMCF-HIP-01-R4",
        CLINICAL_AUTHORS,
    ),
    ("pmcf", "Stride"): (
        "PMCF is a user survey (plan PMCF-STR-01): {a} users of both models answered in the "
        "period. Satisfaction with handling and brakes was high; {b} reported the backrest clamp "
        "issue before the field action. No other new risk was identified.",
        "PMCF survey report PMCF-STR-01-2026",
        CLINICAL_AUTHORS,
    ),
    ("previous_psur_actions", "Infusa"): (
        "The previous PSUR (period ending {prev_end}) decided a revision of the occlusion alarm "
        "thresholds and a review of the battery supplier's incoming inspection. Both were "
        "implemented; the battery review continues.",
        "PSUR-INF-2025 action list",
        PMS_AUTHORS,
    ),
    ("previous_psur_actions", "Cardiolink"): (
        "The previous PSUR (period ending {prev_end}) decided to add the lead impedance trend to "
        "the remote monitoring review. It is implemented and in routine use; no action is open.",
        "PSUR-CRM-2025 action list",
        PMS_AUTHORS,
    ),
    ("previous_psur_actions", "Aurelia"): (
        "The previous PSUR (period ending {prev_end}) asked for a closer follow-up of early "
        "revisions of the cemented C Stem. It found loosening clustered in two sizes; the "
        "investigation continues and a field safety corrective action is being prepared.",
        "PSUR-HIP-2025 action list",
        PMS_AUTHORS,
    ),
    ("previous_psur_actions", "OxiSense"): (
        "This is the family's first PSUR: its first data collection period started on {start}. "
        "No action of a previous PSUR is open.",
        "PMS plan PMSP-OXI-03",
        PMS_AUTHORS,
    ),
    ("previous_psur_actions", "Stride"): (
        "The previous PMS report (period ending {prev_end}) decided to watch caster and wheel "
        "complaints of the Stride Lite. The trend rose in this period; the trend analysis of "
        "this report reviews it.",
        "PMSR-STR-2025 action list",
        PMS_AUTHORS,
    ),
}
SECTIONS = ("literature", "registries", "pmcf", "previous_psur_actions")
# ranges of the counts {a} and {b} of a text, drawn uniformly; (0, 0) where a text has none
COUNTS: dict[tuple[str, str], tuple[tuple[int, int], tuple[int, int]]] = {
    **{("literature", f.name): ((120, 480), (6, 24)) for f in catalog.FAMILIES},
    ("pmcf", "Infusa"): ((180, 900), (8, 22)),  # pumps, hospitals
    ("pmcf", "Cardiolink"): ((180, 600), (40, 160)),  # patients, at the 12-month visit
    ("pmcf", "Aurelia"): ((240, 900), (40, 160)),  # patients, at the 2-year visit
    ("pmcf", "Stride"): ((120, 400), (3, 12)),  # users answering, reporting the clamp issue
}


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------


def write_psur_inputs(
    out: Path, pf: Portfolio, sup: Supply, sig_rows: list[dict[str, object]], seed: int
) -> dict[str, int]:
    """Write `fsca/`, `capa/` and `psur_inputs/`; return row counts."""
    fscas = _fscas(pf, sup, sig_rows, seed)
    capas = _capas(pf, fscas, seed)
    texts = _texts(pf, seed)
    extract = EXTRACT_DATE.isoformat()
    write_csv(_frame(fscas, FSCA_COLUMNS), out / "fsca" / f"fsca_register_{extract}.csv")
    write_csv(_frame(capas, CAPA_COLUMNS), out / "capa" / f"capa_register_{extract}.csv")
    ends = sorted({str(t["period_end"]) for t in texts})
    for end in ends:
        part = [t for t in texts if t["period_end"] == end]
        write_csv(_frame(part, PSUR_INPUT_COLUMNS), out / "psur_inputs" / f"psur_inputs_{end}.csv")
    return {"fsca": len(fscas), "capa": len(capas), "psur_inputs": len(texts)}


def _frame(rows: list[dict[str, object]], columns: tuple[str, ...]) -> pl.DataFrame:
    return pl.DataFrame(
        [{c: r.get(c) for c in columns} for r in rows], schema=dict.fromkeys(columns, pl.String)
    )


def _topic(row: dict[str, object]) -> str:
    """The subject a person names a planted signal by (as in determinations/): scope, value,
    code; a supplier lot's scope is `lot`."""
    scope = "lot" if row["scope"] == "component_lot" else str(row["scope"])
    return f"{scope}:{row['scope_value']}:{row['code']}"


class _Lots:
    """The generated production lots, their supplier lots and where they were shipped."""

    def __init__(self, sup: Supply) -> None:
        self.number = sup.lots["lot_number"].to_list()
        self.model = sup.lots["device_model"].to_list()
        self.made = sup.lots["manufacture_day"].to_numpy()
        self.parts = [p.split(";") if p else [] for p in sup.lots["component_lots"].to_list()]
        self.first_ship = sup.lot_first_ship
        self.country_units = sup.lot_country_units
        self.codes = [c[0] for c in catalog.COUNTRIES]

    def of_models(self, models: tuple[str, ...], before: int) -> list[int]:
        return [
            i
            for i, m in enumerate(self.model)
            if m in models and self.made[i] < before and self.first_ship[i] < before
        ]

    def carrying(self, supplier_lot: str, models: tuple[str, ...], before: int) -> list[int]:
        return [i for i in self.of_models(models, before) if supplier_lot in self.parts[i]]

    def supplier_lots(self, part: str, models: tuple[str, ...], before: int) -> list[str]:
        return sorted(
            {
                p
                for i in self.of_models(models, before)
                for p in self.parts[i]
                if p.split("-")[1:2] == [part]
            }
        )

    def countries(self, lots: list[int]) -> str:
        if not lots:
            return ""
        units = self.country_units[lots].sum(axis=0)
        return ";".join(sorted(self.codes[c] for c in np.nonzero(units > 0)[0]))


def _fscas(
    pf: Portfolio, sup: Supply, sig_rows: list[dict[str, object]], seed: int
) -> list[dict[str, object]]:
    rng = stream(seed, "psur-fsca")
    lots = _Lots(sup)
    as_of = day(AS_OF)
    launch = {m.name: int(pf.launch_day[i]) for i, m in enumerate(pf.models)}
    planted = [r for r in sig_rows if r["kind"] != "null"]
    rows: list[dict[str, object]] = []
    for fam in pf.families:
        pool = [t for t in FSCAS if t.family == fam.name]
        drafts = [_draft(t, rng, lots, launch, planted, as_of) for t in pool]
        forced = [d for d in drafts if d is not None and d["_forced"]]
        others = [d for d in drafts if d is not None and not d["_forced"]]
        wanted = max(int(rng.integers(0, 3)), len(forced))
        extra = wanted - len(forced)
        picked = [others[int(k)] for k in sorted(rng.permutation(len(others))[:extra])]
        rows += forced + picked
    rows.sort(key=lambda r: (r["_start"], str(r["device_family"])))
    per_year: dict[int, int] = {}
    for r in rows:
        start = int(r["_start"])  # type: ignore[arg-type]
        year = date_of(start).year
        per_year[year] = per_year.get(year, 0) + 1
        r["fsca_id"] = f"FSCA-{year}-{per_year[year]:02d}"
        # the field safety notice goes out a few days after the start
        r["fsn_reference"] = f"FSN-{year}-{per_year[year]:02d}" if as_of - start >= 3 else ""
    return rows


def _draft(
    t: Fsca,
    rng: np.random.Generator,
    lots: _Lots,
    launch: dict[str, int],
    planted: list[dict[str, object]],
    as_of: int,
) -> dict[str, object] | None:
    """One FSCA of template `t` (dates, lots, countries, signal), or None when the world has no
    lots or time for it. Draws from `rng` in a fixed order whatever the outcome."""
    u_start, u_closed, u_close_day, u_pick = rng.random(4)
    earliest = max(min(launch[m] for m in t.models) + 180, as_of - 720)
    latest = as_of - 20
    start = earliest + int(u_start * max(latest - earliest, 0))
    signal_id, chosen, component_lot, lot = "", [], "", ""
    forced = t.fixed is not None
    if t.fixed is not None:
        start = day(t.fixed[1])
    else:
        signal = _matching_signal(t, lots, planted)
        if signal is not None:
            onset = day(str(signal["onset_date"]))
            begin = min(onset + 120 + int(u_start * 120), latest)
            if begin > onset + 30:
                start, forced, signal_id = begin, True, _topic(signal)
                if t.signal == "bad_component_lot":
                    component_lot = str(signal["scope_value"])
                elif t.signal == "bad_lot":
                    lot = str(signal["scope_value"])
        if earliest > latest and not forced:
            return None
    if t.lots == "part":
        if not component_lot:
            found = lots.supplier_lots(t.part, t.models, start - 60)
            if not found:
                return None
            component_lot = found[int(u_pick * len(found))]
        chosen = lots.carrying(component_lot, t.models, start)
    elif t.lots == "one_lot":
        if not lot:
            found = lots.of_models(t.models[:1], start - 60)
            if not found:
                return None
            lot = lots.number[found[int(u_pick * len(found))]]
        chosen = [lots.number.index(lot)]
    where = chosen or lots.of_models(t.models, start)
    closed = t.fixed is None and as_of - start >= 200 and u_closed < 0.7
    closed_on = start + 90 + int(u_close_day * (min(400, as_of - start) - 90)) if closed else -1
    return {
        "_start": start,
        "_forced": forced,
        "_template": t,
        "device_family": t.family,
        "started_on": date_of(start).isoformat(),
        "action_type": t.action_type,
        "reason": t.reason.format(component_lot=component_lot, lot=lot),
        "device_models": ";".join(sorted(t.models)),
        "lots": ";".join(sorted(lots.number[i] for i in chosen)),
        "countries": lots.countries(where),
        "status": "closed" if closed else "open",
        "closed_on": date_of(closed_on).isoformat() if closed else None,
        "signal_id": signal_id,
    }


def _matching_signal(
    t: Fsca, lots: _Lots, planted: list[dict[str, object]]
) -> dict[str, object] | None:
    """The planted signal template `t` answers in this world, if any."""
    for r in planted:
        if not t.signal or r["kind"] != t.signal:
            continue
        value = str(r["scope_value"])
        if t.signal == "bad_component_lot":
            if value.split("-")[1:2] == [t.part] and any(
                value in lots.parts[i] and lots.model[i] in t.models
                for i in range(len(lots.number))
            ):
                return r
        elif t.signal == "bad_lot":
            if value in lots.number and lots.model[lots.number.index(value)] in t.models[:1]:
                return r
        elif t.signal == "narrative_new_mode" and value == t.family:
            return r
    return None


def _capas(pf: Portfolio, fscas: list[dict[str, object]], seed: int) -> list[dict[str, object]]:
    rng = stream(seed, "psur-capa")
    as_of = day(AS_OF)
    first_launch = {
        f.name: min(int(pf.launch_day[i]) for i, m in enumerate(pf.models) if m in f.models)
        for f in pf.families
    }
    rows: list[dict[str, object]] = []
    for fam in pf.families:
        own = [r for r in fscas if r["device_family"] == fam.name]
        wanted = max(int(rng.integers(1, 5)), len(own))
        for r in own:  # the CAPA behind each FSCA, opened when the FSCA starts
            t: Fsca = r["_template"]  # type: ignore[assignment]
            u = rng.random(3)
            opened = min(int(r["_start"]) + int(u[0] * 10), as_of)  # type: ignore[arg-type]
            rows.append(
                _capa_row(
                    fam.name,
                    "fsca",
                    f"{r['fsca_id']}: {t.short}",
                    (t.capa_root_cause, t.capa_actions, t.capa_effectiveness),
                    opened,
                    u[1:],
                    as_of,
                    fsca_open=r["status"] == "open",
                )
            )
        pool = [c for c in CAPAS if c.family == fam.name]
        order = rng.permutation(len(pool))
        for k in order[: wanted - len(own)]:
            c = pool[int(k)]
            u = rng.random(3)
            earliest = max(first_launch[fam.name] + 60, as_of - 700)
            opened = earliest + int(u[0] * max(as_of - 10 - earliest, 0))
            rows.append(
                _capa_row(
                    fam.name,
                    c.source,
                    c.problem,
                    (c.root_cause, c.actions, c.effectiveness),
                    opened,
                    u[1:],
                    as_of,
                )
            )
    rows.sort(key=lambda r: (r["_opened"], str(r["device_family"])))
    per_year: dict[int, int] = {}
    for r in rows:
        year = date_of(int(r["_opened"])).year  # type: ignore[arg-type]
        per_year[year] = per_year.get(year, 0) + 1
        r["capa_id"] = f"CAPA-{year}-{per_year[year]:03d}"
    return rows


def _capa_row(
    family: str,
    source: str,
    problem: str,
    texts: tuple[str, str, str],
    opened: int,
    u: np.ndarray,
    as_of: int,
    fsca_open: bool = False,
) -> dict[str, object]:
    """A CAPA whose progress follows its age: young ones open (no root cause in the first
    month), older ones implemented, verified or closed; the CAPA of an open FSCA stays open or
    implemented."""
    root_cause, actions, effectiveness = texts
    age = as_of - opened
    if age < 60:
        status = "open"
    elif age < 180 or fsca_open:
        status = "open" if u[0] < 0.4 else "implemented"
    elif u[0] < 0.15:
        status = "implemented"
    else:
        status = "effectiveness_verified" if u[0] < 0.4 else "closed"
    closed_on = opened + 120 + int(u[1] * (age - 120)) if status == "closed" else -1
    return {
        "_opened": opened,
        "device_family": family,
        "opened_on": date_of(opened).isoformat(),
        "source": source,
        "problem": problem,
        "root_cause": root_cause if age >= 30 else "",
        "actions": actions if age >= 30 else "",
        "status": status,
        "closed_on": date_of(closed_on).isoformat() if closed_on >= 0 else None,
        "effectiveness": effectiveness if status in ("effectiveness_verified", "closed") else "",
    }


def _texts(pf: Portfolio, seed: int) -> list[dict[str, object]]:
    rng = stream(seed, "psur-inputs")
    as_of = day(AS_OF)
    rows: list[dict[str, object]] = []
    for fam in pf.families:
        start, end = psur_period(fam.eu_class)
        months = PERIOD_MONTHS[fam.eu_class]
        prev = end.year * 12 + end.month - months  # the month after the previous period
        prev_end = dt.date(prev // 12, prev % 12 + 1, 1) - dt.timedelta(days=1)
        for section in SECTIONS:
            (a_lo, a_hi), (b_lo, b_hi) = COUNTS.get((section, fam.name), ((0, 0), (0, 0)))
            u = rng.random(4)  # drawn for every section, written or not: the stream stays put
            if (fam.name, section) in LEFT_OUT or (section, fam.name) not in TEXTS:
                continue
            text, source, authors = TEXTS[(section, fam.name)]
            a = a_lo + int(u[0] * (a_hi - a_lo))
            b = min(b_lo + int(u[1] * (b_hi - b_lo)), a)
            updated = day(end) + 2 + int(u[3] * max(as_of - day(end) - 4, 0))
            rows.append(
                {
                    "device_family": fam.name,
                    "section": section,
                    "period_end": end.isoformat(),
                    "text": text.format(
                        start=start.isoformat(),
                        end=end.isoformat(),
                        prev_end=prev_end.isoformat(),
                        a=a,
                        b=b,
                    ),
                    "source": source,
                    "author": authors[int(u[2] * len(authors))],
                    "updated_on": date_of(min(updated, as_of)).isoformat(),
                }
            )
    rows.sort(key=lambda r: (str(r["device_family"]), SECTIONS.index(str(r["section"]))))
    return rows
