"""What the simulated manufacturer makes, how it fails, and what its risk file says.

Everything the generator draws from is declared here as plain data: device families and models
(real FDA product codes from ``assets/reference/fda/foiclass.txt``), the IMDRF Annex A problem
codes each family sees with their baseline rates, the Annex E/G/D codes that go with them, the
ISO 14971 hazards of the risk register, and the narrative fragments complaints are written from.

Rates are complaints per 1,000 units in service per year. A hazard's ``expected_rate`` in the risk
register is derived from the baseline rates of its problem codes (``EXPECTED_MARGIN`` above them),
so every series without a planted signal runs at or below what the risk file foresees.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from assets.ingestion import sources

MANUFACTURER = "ARVENZA MEDICAL GMBH"
MANUFACTURER_SHORT = "Arvenza Medical"
MANUFACTURER_CITY = "ERLANGEN"
MANUFACTURER_COUNTRY = "DE"
MANUFACTURER_POSTAL = "91058"
MANUFACTURER_ADDRESS = "GUENTHER-SCHAROWSKY-STR. 21"
# FDA registration number: the first part of every MDR report number the firm files.
FDA_REGISTRATION = "3013472958"

# The contract's code lists, in its order (the outcome indices below follow OUTCOMES).
COMPLAINT_SOURCES = sources.COMPLAINT_SOURCES
OUTCOMES = sources.PATIENT_OUTCOMES

EXPECTED_MARGIN = 1.25  # risk-file expected rate = margin x summed baseline rate of its codes

# (P none, P injury, P serious_injury, P death, P unknown) by hazard severity of the code.
HARM_BY_SEVERITY: dict[int, tuple[float, float, float, float, float]] = {
    1: (0.930, 0.020, 0.002, 0.0000, 0.048),
    2: (0.885, 0.065, 0.008, 0.0002, 0.042),
    3: (0.770, 0.160, 0.030, 0.0008, 0.039),
    4: (0.600, 0.220, 0.130, 0.0050, 0.045),
    5: (0.480, 0.230, 0.230, 0.0150, 0.045),
}
HARM_REVISION = (0.050, 0.200, 0.700, 0.0030, 0.047)  # implant problems that end in revision
HARM_ADVERSE_EVENT = (0.050, 0.470, 0.420, 0.0120, 0.048)  # A24: event without device problem
HARM_NO_INFO = (0.550, 0.080, 0.010, 0.0000, 0.360)  # A26: insufficient information

CONCLUSIONS_DEVICE = (
    ("D02", 0.20),
    ("D0301", 0.07),
    ("D0101", 0.05),
    ("D14", 0.20),
    ("D15", 0.20),
    ("D1101", 0.09),
    ("D1102", 0.05),
    ("D07", 0.03),
    ("D12", 0.06),
    ("D1001", 0.05),
)
CONCLUSIONS_USE = (("D1102", 0.45), ("D1101", 0.25), ("D08", 0.15), ("D0102", 0.10), ("D14", 0.05))
CONCLUSIONS_PATIENT = (("D1001", 0.45), ("D12", 0.30), ("D1002", 0.10), ("D14", 0.15))
CONCLUSIONS_NOINFO = (("D15", 0.60), ("D14", 0.40))


@dataclass(frozen=True)
class Code:
    """One IMDRF Annex A problem code as a family sees it."""

    code: str
    rate: float  # baseline complaints per 1,000 units in service per year
    malfunction: float  # probability the complaint is a device malfunction
    fda: tuple[int, ...]  # FDA device problem codes used when it is filed as an MDR
    effects: tuple[str, ...]  # Annex E health effects when someone is hurt
    components: tuple[str, ...]  # Annex G components
    phrases: tuple[str, ...]  # narrative sentences ({placeholders} filled per complaint)
    harm: tuple[float, float, float, float, float] | None = None  # overrides severity default
    conclusions: tuple[tuple[str, float], ...] = CONCLUSIONS_DEVICE
    death_effects: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hazard:
    hazard_id: str
    hazard: str
    situation: str
    harm: str
    codes: tuple[str, ...]
    effects: tuple[str, ...]
    severity: int
    acceptability: str


@dataclass(frozen=True)
class ComponentPart:
    """A purchased part whose supplier lot is recorded on every production lot."""

    part: str  # short part id, e.g. BP (battery pack)
    supplier: str
    capacity: int  # units of finished product one supplier lot covers (demo scale)
    models: tuple[str, ...] | None = None  # models using it (None: all of the family)


@dataclass(frozen=True)
class Model:
    name: str
    product_code: str
    launch_offset_days: int  # launch = start of the simulated calendar + offset
    prefix: str  # lot and serial prefix
    gtin: str  # GS1 UDI-DI (GTIN-14)
    us: bool  # shipped to the US (then FDA MDR applies to all its complaints)
    peak_units: float  # units shipped per month once ramped up (relative, demo scale)
    lot_size: int  # units per production lot (demo scale)
    description: str
    shelf_life_months: int | None = None
    serialized: bool = True
    serviced: bool = False
    catalog: str = ""


@dataclass(frozen=True)
class Family:
    name: str
    eu_class: str
    implantable: bool
    nouns: tuple[str, ...]
    models: tuple[Model, ...]
    codes: tuple[Code, ...]
    hazards: tuple[Hazard, ...]
    parts: tuple[ComponentPart, ...]
    sources: tuple[tuple[str, float], ...]
    contexts: tuple[str, ...]
    event_lag_days: float  # mean days between event and awareness
    usage_hours_per_day: tuple[float, float] = (0.0, 0.0)
    growth_per_year: float = 1.12
    extra: dict[str, str] = field(default_factory=dict)


def _gtin(body13: str) -> str:
    """GTIN-14 with its GS1 check digit."""
    digits = [int(c) for c in body13]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return body13 + str((10 - total % 10) % 10)


# --------------------------------------------------------------------------------------------
# Infusion pumps
# --------------------------------------------------------------------------------------------
INFUSA = Family(
    name="Infusa",
    eu_class="IIb",
    implantable=False,
    nouns=("pump", "pump", "infusion pump", "device", "unit"),
    models=(
        Model(
            "Infusa VP300",
            "FRN",
            9,
            "VP3",
            _gtin("0426004812001"),
            True,
            900,
            300,
            "Volumetric large-volume infusion pump, single channel, with drug library",
            serviced=True,
            catalog="IVP-300-EU",
        ),
        Model(
            "Infusa SP200",
            "FRN",
            128,
            "SP2",
            _gtin("0426004812002"),
            True,
            520,
            300,
            "Syringe infusion pump for 5-60 mL syringes, anaesthesia and ICU use",
            serviced=True,
            catalog="ISP-200",
        ),
        Model(
            "Infusa VP350",
            "FRN",
            548,
            "V35",
            _gtin("0426004812003"),
            True,
            760,
            300,
            "Volumetric infusion pump with dose error reduction software and Wi-Fi drug "
            "library updates",
            serviced=True,
            catalog="IVP-350-W",
        ),
    ),
    codes=(
        Code(
            "A1407",
            3.0,
            0.95,
            (2182, 2954),
            ("E2110", "E2321", "E1205"),
            ("G04105", "G04090", "G0301204", "G0200804"),
            (
                "{dev} was running {drug} at {set} but only about {vol} mL had infused after "
                "{hrs} h, much less than programmed.",
                "RN noticed the bag volume barely changed; the {dev} showed {set} but "
                "under-delivered {drug}.",
                "under infusion suspected - {drug} effect not achieved although {dev} indicated "
                "infusion running at {set}.",
                "volume infused on screen did not match the bag, approx {num}0% less delivered "
                "than the set rate of {set}.",
                "customer checked the {model} w/ a graduated cylinder: delivered volume short "
                "by ~{num}0% at {set}.",
                "{drug} infusion ran slow, pt BP dropped before the under-delivery was noticed.",
            ),
            death_effects=("E0602",),
        ),
        Code(
            "A1402",
            1.2,
            0.95,
            (1311,),
            ("E2113", "E2321", "E060104", "E0726"),
            ("G04105", "G04135", "G0200804"),
            (
                "{drug} infused faster than programmed; bag empty {num} h early on a {dev} set "
                "at {set}.",
                "over-infusion of {drug}: {dev} programmed at {set}, the whole volume went in "
                "within {hrs} h.",
                "pt received more {drug} than ordered, the {dev} appeared to run at about "
                "double the set rate.",
                "nurse found the {drug} bag nearly empty shortly after hanging it, pump rate "
                "{set}, suspected over delivery.",
            ),
            death_effects=("E0602", "E060101"),
        ),
        Code(
            "A140502",
            0.4,
            0.97,
            (2945,),
            ("E2113", "E2321", "E0726"),
            ("G04135", "G0405206", "G04134"),
            (
                "free flow of {drug} when the door of the {dev} was opened; the anti-free-flow "
                "clip did not engage.",
                "uncontrolled flow noticed when the set was removed from the {dev}; approx {vol} "
                "mL {drug} given as a bolus.",
                "free-flow event: fluid ran freely through the set while the {dev} was paused.",
            ),
            death_effects=("E0602",),
        ),
        Code(
            "A070504",
            6.0,
            0.97,
            (1057, 2885),
            ("E2110", "E2321"),
            ("G02002",),
            (
                "battery depleted after only {hrs} h on battery although it showed full; the "
                "{dev} shut off during transport.",
                "low battery alarm came {num} min after unplugging, battery indicator showed 3 "
                "bars.",
                "{dev} battery drains very fast and does not last the transfer from ICU to CT.",
                "pump died on battery within approx {num}0 min, battery pack less than a year old.",
                "battery life much shorter than spec, pump switched off w/ {drug} running.",
            ),
        ),
        Code(
            "A0719",
            2.5,
            0.97,
            (1475, 2939),
            ("E2110", "E2321", "E1205"),
            ("G02027", "G02005", "G0200804"),
            (
                "{dev} switched off by itself mid-infusion w/o alarm; {drug} interrupted.",
                "pump rebooted unexpectedly and lost its program, {drug} stopped for approx "
                "{num}0 min.",
                "unit powered down during the infusion of {drug}, screen went black, restarted "
                "normally afterwards.",
                "sudden shutdown of the {model} while on mains power, error {err} shown on "
                "restart.",
            ),
        ),
        Code(
            "A160105",
            14.0,
            0.90,
            (1013,),
            ("E2110",),
            ("G0301204", "G0301201"),
            (
                "repeated downstream occlusion alarms w/o any occlusion, line checked and patent.",
                "false air-in-line alarms, no air visible in the tubing, nurses had to restart "
                "the pump {num} times.",
                "{dev} alarms 'occlusion' constantly during {drug} infusion, no kink found.",
                "nuisance alarms every few minutes on the {model}; staff frustrated, pump swapped.",
                "air in line alarm keeps triggering although the set was primed correctly.",
                "upstream occlusion alarm on every start-up, bag spike and clamp ok.",
            ),
        ),
        Code(
            "A160102",
            0.8,
            0.95,
            (1019,),
            ("E2110", "E2321", "E0726"),
            ("G0600101", "G02033"),
            (
                "{dev} stopped infusing but no audible alarm sounded, only a message on the "
                "screen.",
                "occlusion occurred and the alarm was not audible; RN discovered it on rounds "
                "{num}0 min later.",
                "alarm speaker silent, visual alert only. {drug} infusion was on hold unnoticed.",
            ),
        ),
        Code(
            "A090203",
            4.0,
            0.95,
            (1182,),
            ("E2110",),
            ("G0201402", "G02014"),
            (
                "display flickering and partly unreadable on the {dev}.",
                "screen shows garbled characters intermittently.",
                "display goes blank for a few seconds then comes back, pump keeps running.",
                "lines across the LCD, numbers hard to read.",
            ),
        ),
        Code(
            "A150105",
            5.0,
            0.95,
            (2913, 2958),
            ("E2110",),
            ("G0204002",),
            (
                "keypad buttons not responding, had to press several times to enter the rate.",
                "start/stop key stuck, could not stop the infusion from the keypad, had to "
                "open the door.",
                "the 'enter' key does not register, {dev} taken out of service.",
                "buttons unresponsive after cleaning w/ disinfectant wipes.",
            ),
        ),
        Code(
            "A0404",
            3.0,
            0.90,
            (1135,),
            ("E2009",),
            ("G04070", "G0405206"),
            (
                "housing cracked at the pole clamp area.",
                "crack on the door latch, door does not close properly.",
                "{dev} fell from the IV pole, case cracked, still functioning.",
                "hairline crack found on the rear casing during cleaning.",
            ),
        ),
        Code(
            "A2302",
            3.0,
            0.10,
            (3198,),
            ("E2113", "E2321"),
            ("G0200803",),
            (
                "wrong rate programmed ({set} instead of the ordered rate), discovered at "
                "handover.",
                "user entered the dose in mL/h instead of mg/h, drug library soft limit "
                "overridden.",
                "programming error: decimal point misplaced when entering the {drug} rate.",
            ),
            conclusions=CONCLUSIONS_USE,
            death_effects=("E0602",),
        ),
        Code(
            "A1415",
            1.0,
            0.85,
            (2964,),
            ("E050301", "E0717"),
            ("G0301201", "G04134"),
            (
                "air observed in the line downstream of the {dev}; the air sensor did not alarm.",
                "approx {vol} mL of air in the tubing below the pump, no air-in-line alarm.",
            ),
            death_effects=("E050301",),
        ),
        Code(
            "A24",
            1.0,
            0.05,
            (2993,),
            ("E040201", "E2321", "E0717"),
            ("G07001",),
            (
                "pt had a reaction during the {drug} infusion; the hospital asked for a check "
                "of the {dev}.",
                "{pt} deteriorated during the infusion, clinician wants to rule out the pump.",
            ),
            harm=HARM_ADVERSE_EVENT,
            conclusions=CONCLUSIONS_PATIENT,
            death_effects=("E0602",),
        ),
    ),
    hazards=(
        Hazard(
            "HZ-INF-01",
            "Over-delivery of medication",
            "Pump delivers drug faster than programmed or in free flow",
            "Overdose: respiratory depression, hypotension, cardiac arrest",
            ("A1402", "A140502"),
            ("E2113", "E2321", "E0602"),
            5,
            "alarp",
        ),
        Hazard(
            "HZ-INF-02",
            "Under-delivery of medication",
            "Pump delivers less drug than programmed",
            "Loss of therapeutic effect",
            ("A1407",),
            ("E2110", "E2321", "E1205"),
            4,
            "alarp",
        ),
        Hazard(
            "HZ-INF-03",
            "Unexpected interruption of therapy",
            "Pump shuts down during infusion without alarm",
            "Loss of therapeutic effect",
            ("A0719",),
            ("E2110", "E2321"),
            4,
            "alarp",
        ),
        Hazard(
            "HZ-INF-04",
            "Alarm condition not annunciated",
            "Occlusion or end of infusion without audible alarm",
            "Delayed therapy",
            ("A160102",),
            ("E2110", "E0726"),
            4,
            "alarp",
        ),
        Hazard(
            "HZ-INF-05",
            "Air infused into the patient",
            "Air in line passes the air sensor undetected",
            "Air embolism",
            ("A1415",),
            ("E050301",),
            4,
            "alarp",
        ),
        Hazard(
            "HZ-INF-06",
            "Programming error",
            "User programmes a wrong rate or unit",
            "Over- or under-dose",
            ("A2302",),
            ("E2113", "E2321"),
            4,
            "alarp",
        ),
        Hazard(
            "HZ-INF-07",
            "Premature battery depletion",
            "Pump stops on battery during transport",
            "Short interruption of therapy",
            ("A070504",),
            ("E2110",),
            3,
            "acceptable",
        ),
        Hazard(
            "HZ-INF-08",
            "Nuisance alarms",
            "Repeated false occlusion or air alarms",
            "Alarm fatigue, delayed therapy",
            ("A160105",),
            ("E2110",),
            2,
            "acceptable",
        ),
        Hazard(
            "HZ-INF-09",
            "User interface failure",
            "Display or keypad fails during programming",
            "Delay of therapy",
            ("A090203", "A150105"),
            ("E2110",),
            2,
            "acceptable",
        ),
        Hazard(
            "HZ-INF-10",
            "Mechanical damage of the housing",
            "Cracked housing or door latch",
            "Minor cut; device unavailable",
            ("A0404",),
            ("E2009",),
            1,
            "acceptable",
        ),
    ),
    parts=(
        ComponentPart("BP", "LXC", 1100, ("Infusa VP300", "Infusa VP350")),
        ComponentPart("BS", "LXC", 1100, ("Infusa SP200",)),
        ComponentPart("MB", "ELT", 2000),
        ComponentPart("PM", "MKS", 1500, ("Infusa VP300", "Infusa VP350")),
    ),
    sources=(
        ("customer", 0.34),
        ("healthcare_professional", 0.30),
        ("field_service", 0.15),
        ("distributor", 0.15),
        ("regulator", 0.03),
        ("literature", 0.01),
        ("social_media", 0.02),
    ),
    contexts=(
        "Event occurred in ICU.",
        "pump in use on a med-surg ward.",
        "therapy delayed due to the fault, backup pump used.",
        "occurred during pt transport.",
        "used in the oncology day unit.",
        "pump on software {fw}.",
        "biomed has the unit, will return it to mfr.",
        "asset tag {asset}.",
        "Event happened on night shift.",
        "Pump is {age_dev} yrs old.",
        "Second event on this ward this month.",
        "",
    ),
    event_lag_days=3.0,
    usage_hours_per_day=(4.0, 16.0),
)

# --------------------------------------------------------------------------------------------
# Implantable pacemakers and leads
# --------------------------------------------------------------------------------------------
CARDIOLINK = Family(
    name="Cardiolink",
    eu_class="III",
    implantable=True,
    nouns=("pacemaker", "device", "IPG", "pacer", "implant"),
    models=(
        Model(
            "Cardiolink SR 1200",
            "LWP",
            44,
            "CS1",
            _gtin("0426004813001"),
            True,
            260,
            200,
            "Single-chamber rate-responsive implantable pacemaker (VVIR), MRI conditional",
            shelf_life_months=24,
            catalog="CL-SR1200",
        ),
        Model(
            "Cardiolink DR 2200",
            "LWP",
            44,
            "CD2",
            _gtin("0426004813002"),
            True,
            360,
            200,
            "Dual-chamber rate-responsive implantable pacemaker (DDDR), MRI conditional, "
            "remote monitoring",
            shelf_life_months=24,
            catalog="CL-DR2200",
        ),
        Model(
            "Cardiolink TF52 Lead",
            "NVN",
            44,
            "TF5",
            _gtin("0426004813003"),
            True,
            820,
            400,
            "Steroid-eluting active-fixation bipolar pacing lead, 52 cm",
            shelf_life_months=24,
            catalog="CL-TF52",
        ),
    ),
    codes=(
        Code(
            "A070101",
            1.5,
            0.90,
            (1081,),
            ("E060104", "E011903", "E0112"),
            ("G0201501", "G02025", "G02005"),
            (
                "loss of capture noted on ECG, {pt} symptomatic w/ dizziness; threshold "
                "increased to {thr} V.",
                "intermittent non-capture observed during follow-up, pacing output increased.",
                "failure to capture in the RV, pt presented w/ bradycardia, HR {hr} bpm.",
            ),
            death_effects=("E060101", "E0602"),
        ),
        Code(
            "A070909",
            2.0,
            0.85,
            (1438,),
            ("E011902", "E060104", "E0112"),
            ("G02025", "G02005"),
            (
                "oversensing of myopotentials leading to pacing inhibition, pt reported "
                "presyncope.",
                "noise on the RV channel, {dev} inhibited pacing, sensitivity reprogrammed.",
                "over-sensing episodes on interrogation, {num} pauses longer than 3 s.",
            ),
        ),
        Code(
            "A070910",
            1.0,
            0.85,
            (1661,),
            ("E060102", "E060105"),
            ("G02025", "G02005"),
            (
                "atrial undersensing observed at the follow-up clinic, sensitivity adjusted.",
                "undersensing of intrinsic R waves, competitive pacing seen on ECG.",
            ),
        ),
        Code(
            "A160601",
            0.8,
            0.95,
            (3011,),
            ("E060104",),
            ("G02002",),
            (
                "{dev} reached ERI only {mo} months after implant, expected longevity > 10 yrs.",
                "elective replacement indicator triggered prematurely, battery voltage low on "
                "interrogation; early generator change scheduled.",
            ),
        ),
        Code(
            "A071209",
            0.5,
            0.60,
            (2913,),
            ("E2103",),
            ("G04070",),
            (
                "pt complains of muscle twitching at the pocket synchronous w/ pacing.",
                "pocket stimulation reported, output reduced to resolve it.",
            ),
        ),
        Code(
            "A072201",
            2.0,
            0.90,
            (2950,),
            ("E0112",),
            ("G0202501", "G04075"),
            (
                "RV lead impedance rose to more than {imp} ohms at routine check.",
                "high lead impedance alert on remote monitoring, conductor issue suspected.",
            ),
        ),
        Code(
            "A040101",
            0.8,
            0.95,
            (1350,),
            ("E060104", "E011903"),
            ("G0202501", "G02015"),
            (
                "lead fracture confirmed on fluoroscopy near the clavicle, lead replaced.",
                "conductor fracture suspected after impedance spike and noise, revision performed.",
            ),
            harm=HARM_REVISION,
            death_effects=("E060101",),
        ),
        Code(
            "A010402",
            3.0,
            0.70,
            (1203, 1395),
            ("E060104", "E0112"),
            ("G0201501",),
            (
                "lead dislodgement {num} days post implant, repositioning procedure performed.",
                "atrial lead dislodged, loss of sensing and capture, re-intervention required.",
                "lead tip migration seen on chest x-ray, pt taken back to the EP lab.",
            ),
            harm=HARM_REVISION,
        ),
        Code(
            "A071102",
            1.5,
            0.90,
            (2896,),
            ("E2403",),
            ("G02035", "G02010"),
            (
                "programmer unable to interrogate the {dev} in clinic, wand repositioned "
                "multiple times.",
                "could not establish a telemetry session with the {model} at follow-up.",
            ),
        ),
        Code(
            "A1305",
            2.0,
            0.90,
            (3283,),
            ("E2403",),
            ("G02035", "G02001"),
            (
                "home monitor not transmitting data for {num} weeks, pt contacted the clinic.",
                "remote monitoring connection lost, bluetooth pairing failed repeatedly.",
            ),
        ),
        Code(
            "A24",
            1.5,
            0.05,
            (2993,),
            ("E2115", "E0611", "E1906"),
            ("G07001",),
            (
                "pt developed a pocket infection {num} weeks post implant; {dev} explanted.",
                "pt hospitalised w/ heart failure symptoms, {dev} functioning normally at "
                "interrogation.",
            ),
            harm=HARM_ADVERSE_EVENT,
            conclusions=CONCLUSIONS_PATIENT,
            death_effects=("E0611", "E0602"),
        ),
    ),
    hazards=(
        Hazard(
            "HZ-CRM-01",
            "Loss of pacing",
            "Failure to capture or lead conductor fracture in a pacemaker-dependent patient",
            "Syncope, asystole, death",
            ("A070101", "A040101"),
            ("E060104", "E011903", "E060101"),
            5,
            "alarp",
        ),
        Hazard(
            "HZ-CRM-02",
            "Inappropriate inhibition of pacing",
            "Over-sensing of noise or myopotentials",
            "Presyncope, bradycardia",
            ("A070909",),
            ("E011902", "E060104"),
            4,
            "alarp",
        ),
        Hazard(
            "HZ-CRM-03",
            "Lead dislodgement",
            "Lead moves away from fixation site",
            "Re-intervention, loss of pacing",
            ("A010402",),
            ("E060104",),
            4,
            "alarp",
        ),
        Hazard(
            "HZ-CRM-04",
            "Premature battery depletion",
            "Generator reaches ERI early",
            "Early surgical replacement",
            ("A160601",),
            ("E060104",),
            4,
            "alarp",
        ),
        Hazard(
            "HZ-CRM-05",
            "Under-sensing",
            "Intrinsic activity not sensed",
            "Competitive pacing, arrhythmia",
            ("A070910",),
            ("E060102",),
            3,
            "acceptable",
        ),
        Hazard(
            "HZ-CRM-06",
            "Lead impedance out of range",
            "Insulation or conductor degradation",
            "Lead replacement",
            ("A072201",),
            ("E0112",),
            3,
            "acceptable",
        ),
        Hazard(
            "HZ-CRM-07",
            "Extracardiac stimulation",
            "Pocket or diaphragm stimulation",
            "Discomfort",
            ("A071209",),
            ("E2103",),
            2,
            "acceptable",
        ),
        Hazard(
            "HZ-CRM-08",
            "Loss of telemetry",
            "Programmer or remote monitor cannot connect",
            "Delayed follow-up",
            ("A071102", "A1305"),
            ("E2403",),
            2,
            "acceptable",
        ),
    ),
    parts=(
        ComponentPart("HC", "MCX", 600, ("Cardiolink SR 1200", "Cardiolink DR 2200")),
        ComponentPart("LI", "GBT", 800, ("Cardiolink SR 1200", "Cardiolink DR 2200")),
        ComponentPart("SI", "NUS", 2000, ("Cardiolink TF52 Lead",)),
        ComponentPart("ST", "PHD", 2400, ("Cardiolink TF52 Lead",)),
    ),
    sources=(
        ("healthcare_professional", 0.68),
        ("field_service", 0.15),
        ("patient", 0.06),
        ("distributor", 0.05),
        ("clinical_study", 0.03),
        ("literature", 0.02),
        ("regulator", 0.01),
    ),
    contexts=(
        "Implanted {mo} months ago.",
        "reported by the field clinical engineer at follow-up.",
        "pt is pacemaker dependent.",
        "{dev} interrogated by company rep.",
        "implanting physician Dr. {doc}.",
        "found during remote monitoring review.",
        "",
    ),
    event_lag_days=12.0,
)

# --------------------------------------------------------------------------------------------
# Hip replacement components
# --------------------------------------------------------------------------------------------
AURELIA = Family(
    name="Aurelia",
    eu_class="III",
    implantable=True,
    nouns=("implant", "stem", "component", "prosthesis"),
    models=(
        Model(
            "Aurelia HA Stem",
            "LPH",
            16,
            "AHS",
            _gtin("0426004814001"),
            True,
            900,
            500,
            "Cementless hydroxyapatite-coated titanium femoral stem, 12 sizes",
            shelf_life_months=60,
            serialized=False,
            catalog="AU-HAS",
        ),
        Model(
            "Aurelia Shell",
            "LPH",
            16,
            "ASH",
            _gtin("0426004814002"),
            True,
            900,
            500,
            "Porous titanium acetabular shell with highly cross-linked polyethylene liner",
            shelf_life_months=60,
            serialized=False,
            catalog="AU-SHL",
        ),
        Model(
            "Aurelia C Stem",
            "JDI",
            289,
            "ACS",
            _gtin("0426004814003"),
            False,
            260,
            500,
            "Cemented polished cobalt-chromium femoral stem (CE-marked only)",
            shelf_life_months=60,
            serialized=False,
            catalog="AU-CST",
        ),
    ),
    codes=(
        Code(
            "A0103",
            1.5,
            0.50,
            (1372,),
            ("E2109", "E1627", "E2207"),
            ("G04029", "G04112"),
            (
                "aseptic loosening of the femoral stem {mo} months post op, revision surgery "
                "performed.",
                "pt reports thigh pain, x-ray shows radiolucent lines around the stem, "
                "loosening suspected.",
                "stem found loose at revision, no infection.",
            ),
            harm=HARM_REVISION,
        ),
        Code(
            "A010202",
            1.2,
            0.50,
            (3003,),
            ("E1612", "E2109"),
            ("G04039", "G04029"),
            (
                "acetabular shell failed to osseointegrate, cup loose at revision {mo} months "
                "after implant.",
                "no bone ingrowth on the shell surface found at revision.",
            ),
            harm=HARM_REVISION,
        ),
        Code(
            "A051201",
            3.0,
            0.30,
            (2923,),
            ("E1614", "E2109"),
            ("G04009", "G04083", "G04039"),
            (
                "hip dislocated {num} weeks post op while the pt was getting out of bed, closed "
                "reduction under sedation.",
                "recurrent dislocation ({num} episodes), revision w/ a larger head planned.",
                "pt sustained a posterior dislocation, ER visit, reduced.",
            ),
            harm=HARM_REVISION,
        ),
        Code(
            "A040101",
            0.2,
            0.95,
            (1260,),
            ("E160301", "E2109"),
            ("G04112",),
            (
                "stem fracture at the neck region {mo} months post implant, revision.",
                "femoral stem broke, pt unable to bear weight, emergency revision.",
            ),
            harm=HARM_REVISION,
            death_effects=("E050303",),
        ),
        Code(
            "A040507",
            0.6,
            0.60,
            (2988,),
            ("E1627", "E2206"),
            ("G04083",),
            ("polyethylene liner wear observed at {mo} months, eccentric head position on x-ray.",),
        ),
        Code(
            "A0508",
            0.8,
            0.80,
            (3273,),
            ("E2311",),
            ("G04009", "G04083"),
            (
                "pt reports a squeaking noise from the hip when walking.",
                "audible clicking from the implant, no pain.",
            ),
        ),
        Code(
            "A020504",
            1.0,
            0.95,
            (2916,),
            ("E2403",),
            ("G04094",),
            (
                "inner sterile pouch torn, noticed in OR before implantation, product not used.",
                "hole in the blister packaging of the {dev}, sterility compromised, replaced "
                "w/ another unit.",
            ),
        ),
        Code(
            "A010103",
            1.0,
            0.50,
            (2913,),
            ("E2403",),
            ("G07001",),
            (
                "trial size did not match the implant size, surgeon had to switch to size {num}.",
                "stem did not seat to the planned depth, different size used, surgery prolonged "
                "by ~{num}0 min.",
            ),
        ),
        Code(
            "A0107",
            1.0,
            0.50,
            (1395,),
            ("E2109", "E2302"),
            ("G04029", "G04112"),
            ("stem subsidence of {num} mm on follow-up x-ray, pt has thigh pain.",),
        ),
        Code(
            "A24",
            2.0,
            0.05,
            (2993,),
            ("E2123", "E160301", "E2115"),
            ("G07001",),
            (
                "periprosthetic infection {num} weeks post op, debridement and liner exchange.",
                "pt sustained a periprosthetic fracture after a fall, no device defect alleged.",
            ),
            harm=HARM_ADVERSE_EVENT,
            conclusions=CONCLUSIONS_PATIENT,
            death_effects=("E050303",),
        ),
    ),
    hazards=(
        Hazard(
            "HZ-HIP-01",
            "Implant fracture",
            "Fatigue fracture of the femoral stem",
            "Revision surgery, loss of mobility",
            ("A040101",),
            ("E160301", "E2109"),
            5,
            "alarp",
        ),
        Hazard(
            "HZ-HIP-02",
            "Aseptic loosening",
            "Loss of fixation of stem or shell",
            "Pain, revision surgery",
            ("A0103", "A010202"),
            ("E2109", "E1627", "E1612"),
            4,
            "alarp",
        ),
        Hazard(
            "HZ-HIP-03",
            "Dislocation",
            "Femoral head leaves the liner",
            "Closed reduction or revision",
            ("A051201",),
            ("E1614",),
            4,
            "alarp",
        ),
        Hazard(
            "HZ-HIP-04",
            "Subsidence",
            "Stem migrates distally",
            "Pain, leg-length change",
            ("A0107",),
            ("E2109",),
            3,
            "acceptable",
        ),
        Hazard(
            "HZ-HIP-05",
            "Bearing wear",
            "Liner wear and debris",
            "Osteolysis, revision",
            ("A040507",),
            ("E1627",),
            3,
            "acceptable",
        ),
        Hazard(
            "HZ-HIP-06",
            "Loss of sterile barrier",
            "Damaged sterile packaging",
            "Infection if implanted",
            ("A020504",),
            ("E2123",),
            3,
            "acceptable",
        ),
        Hazard(
            "HZ-HIP-07",
            "Audible noise",
            "Squeaking articulation",
            "Discomfort",
            ("A0508",),
            ("E2311",),
            2,
            "acceptable",
        ),
        Hazard(
            "HZ-HIP-08",
            "Size mismatch",
            "Trial and implant do not match",
            "Prolonged surgery",
            ("A010103",),
            ("E2403",),
            2,
            "acceptable",
        ),
    ),
    parts=(
        ComponentPart("TI", "ATM", 2500, ("Aurelia HA Stem", "Aurelia Shell")),
        ComponentPart("HA", "BCP", 3000, ("Aurelia HA Stem", "Aurelia Shell")),
        ComponentPart("PE", "PXL", 2500, ("Aurelia Shell",)),
        ComponentPart("CC", "ATM", 2000, ("Aurelia C Stem",)),
    ),
    sources=(
        ("healthcare_professional", 0.74),
        ("distributor", 0.10),
        ("clinical_study", 0.05),
        ("literature", 0.03),
        ("patient", 0.05),
        ("regulator", 0.03),
    ),
    contexts=(
        "{side} hip, primary THA.",
        "surgery at {hosp}.",
        "reported by the sales rep.",
        "posterolateral approach.",
        "BMI {bmi}.",
        "pt is {age} yrs old.",
        "",
    ),
    event_lag_days=20.0,
)

# --------------------------------------------------------------------------------------------
# Pulse oximeters
# --------------------------------------------------------------------------------------------
OXISENSE = Family(
    name="OxiSense",
    eu_class="IIa",
    implantable=False,
    nouns=("oximeter", "device", "unit", "pulse oximeter"),
    models=(
        Model(
            "OxiSense PX10",
            "DQA",
            5,
            "OX1",
            _gtin("0426004815001"),
            True,
            3000,
            1500,
            "Fingertip pulse oximeter for spot-check SpO2 and pulse rate",
            catalog="OXS-PX10",
        ),
        Model(
            "OxiSense PX40",
            "DQA",
            233,
            "OX4",
            _gtin("0426004815002"),
            True,
            620,
            600,
            "Handheld pulse oximeter with reusable finger sensor, alarms and data memory",
            serviced=True,
            catalog="OXS-PX40",
        ),
    ),
    codes=(
        Code(
            "A090805",
            5.0,
            0.90,
            (1005,),
            ("E2203",),
            ("G0301203", "G05005", "G0301205"),
            (
                "SpO2 reading {spo2}% on the {model} vs {ref}% on ABG.",
                "inaccurate readings compared to the hospital monitor, difference of {num} points.",
                "{dev} shows fluctuating SpO2 values not matching the clinical picture.",
                "oximeter reads wrong - my other oximeter shows {ref} while this one shows {spo2}.",
            ),
        ),
        Code(
            "A090807",
            0.8,
            0.90,
            (2459,),
            ("E0726", "E2203"),
            ("G0301203", "G05005"),
            (
                "oximeter displayed {spo2}% while ABG SaO2 was {ref}%, hypoxaemia missed for a "
                "while.",
                "falsely high SpO2 in a pt w/ dark skin pigmentation, ABG showed much lower "
                "saturation.",
            ),
            death_effects=("E0726",),
        ),
        Code(
            "A090808",
            2.0,
            0.90,
            (2460,),
            ("E2403",),
            ("G0301203", "G0301205"),
            (
                "reads falsely low ({spo2}%), pt well and pink, repeat on another device {ref}%.",
                "unit gives low values, caused unnecessary O2 titration.",
            ),
        ),
        Code(
            "A090811",
            3.0,
            0.90,
            (1516,),
            ("E2403",),
            ("G03012", "G0301205"),
            (
                "{dev} does not pick up a reading, dashes only on the display.",
                "no reading obtained on several pts w/ cold fingers, '---' shown.",
            ),
        ),
        Code(
            "A070803",
            2.0,
            0.95,
            (1476,),
            ("E2403",),
            ("G02002", "G0203401"),
            (
                "oximeter will not turn on even w/ new batteries.",
                "unit dead out of the box, no power.",
            ),
        ),
        Code(
            "A070503",
            1.5,
            0.95,
            (2885,),
            ("E2403",),
            ("G02002",),
            (
                "battery compartment contacts corroded, {dev} does not run on batteries.",
                "batteries drain within {num} days although the device is switched off.",
            ),
        ),
        Code(
            "A090206",
            1.5,
            0.95,
            (1183,),
            ("E2403",),
            ("G0201402",),
            (
                "screen blank though the {dev} beeps.",
                "display not lighting up, readings not visible.",
            ),
        ),
        Code(
            "A160102",
            0.4,
            0.95,
            (1019,),
            ("E0726",),
            ("G0600101",),
            (
                "low SpO2 alarm did not sound when the sat dropped to {spo2}%.",
                "alarm volume set to max but no audible alarm during a desat event.",
            ),
        ),
        Code(
            "A0404",
            1.5,
            0.90,
            (1135,),
            ("E2403",),
            ("G04070", "G04119"),
            (
                "finger clip hinge cracked.",
                "plastic housing cracked after normal use.",
            ),
        ),
        Code(
            "A010101",
            0.6,
            0.30,
            (2886,),
            ("E171601", "E1720"),
            ("G04095",),
            ("skin irritation and redness at the finger after prolonged use.",),
        ),
        Code(
            "A1005",
            0.3,
            0.90,
            (3022,),
            ("E170404", "E171601"),
            ("G05005",),
            ("sensor became hot, pt had a red mark on the fingertip.",),
        ),
        Code(
            "A26",
            1.5,
            0.50,
            (3190,),
            ("E2401",),
            ("G07003",),
            (
                "customer says the oximeter is 'not working', no further details provided.",
                "complaint received via web form: device faulty, no details.",
            ),
            harm=HARM_NO_INFO,
            conclusions=CONCLUSIONS_NOINFO,
        ),
        Code(
            "A2204",
            1.0,
            0.40,
            (2958,),
            ("E2403",),
            ("G0200803",),
            (
                "user finds the display orientation confusing, reads pulse rate as SpO2.",
                "menu hard to navigate, could not find the alarm settings.",
            ),
            conclusions=CONCLUSIONS_USE,
        ),
    ),
    hazards=(
        Hazard(
            "HZ-OXI-01",
            "Falsely high SpO2",
            "Over-reading masks hypoxaemia",
            "Delayed treatment of hypoxaemia",
            ("A090807",),
            ("E0726",),
            4,
            "alarp",
        ),
        Hazard(
            "HZ-OXI-02",
            "Alarm not annunciated",
            "Desaturation without audible alarm",
            "Delayed treatment of hypoxaemia",
            ("A160102",),
            ("E0726",),
            4,
            "alarp",
        ),
        Hazard(
            "HZ-OXI-03",
            "Inaccurate reading",
            "Reading differs from arterial saturation",
            "Inappropriate oxygen therapy",
            ("A090805", "A090808"),
            ("E2203",),
            3,
            "acceptable",
        ),
        Hazard(
            "HZ-OXI-04",
            "No reading available",
            "Device fails to power or measure",
            "Delay of assessment",
            ("A090811", "A070803", "A090206", "A070503"),
            ("E2403",),
            2,
            "acceptable",
        ),
        Hazard(
            "HZ-OXI-05",
            "Skin injury at the sensor site",
            "Heat or material contact",
            "Erythema, superficial burn",
            ("A1005", "A010101"),
            ("E171601", "E170404"),
            3,
            "acceptable",
        ),
        Hazard(
            "HZ-OXI-06",
            "Use error from the user interface",
            "Values misread",
            "Wrong assessment",
            ("A2204",),
            ("E2403",),
            2,
            "acceptable",
        ),
        Hazard(
            "HZ-OXI-07",
            "Housing or clip damage",
            "Cracked housing",
            "None expected",
            ("A0404",),
            ("E2403",),
            1,
            "acceptable",
        ),
    ),
    parts=(
        ComponentPart("SM", "OPX", 5000),
        ComponentPart("LC", "DSP", 8000),
    ),
    sources=(
        ("customer", 0.34),
        ("patient", 0.30),
        ("distributor", 0.15),
        ("healthcare_professional", 0.12),
        ("social_media", 0.06),
        ("regulator", 0.03),
    ),
    contexts=(
        "used at home for COVID follow-up.",
        "used on a respiratory ward.",
        "bought through an online pharmacy.",
        "{dev} about {num} months old.",
        "pt has cold hands / poor perfusion.",
        "",
        "",
    ),
    event_lag_days=2.0,
    usage_hours_per_day=(2.0, 12.0),
)

# --------------------------------------------------------------------------------------------
# Manual wheelchairs
# --------------------------------------------------------------------------------------------
STRIDE = Family(
    name="Stride",
    eu_class="I",
    implantable=False,
    nouns=("wheelchair", "chair", "wheelchair", "device"),
    models=(
        Model(
            "Stride Lite",
            "IOR",
            23,
            "STL",
            _gtin("0426004816001"),
            True,
            720,
            250,
            "Folding lightweight manual wheelchair, aluminium frame",
            serviced=True,
            catalog="STR-LITE",
        ),
        Model(
            "Stride Active",
            "IOR",
            422,
            "STA",
            _gtin("0426004816002"),
            False,
            420,
            250,
            "Rigid-frame active manual wheelchair (CE-marked only)",
            serviced=True,
            catalog="STR-ACT",
        ),
    ),
    codes=(
        Code(
            "A051202",
            1.5,
            0.40,
            (2589,),
            ("E2007", "E160302", "E2002"),
            ("G04022", "G04027"),
            (
                "{dev} tipped backwards going up a kerb although the anti-tippers were fitted.",
                "chair tipped over sideways on a slope, user fell.",
            ),
            death_effects=("E160304",),
        ),
        Code(
            "A040101",
            0.5,
            0.95,
            (1260,),
            ("E2007", "E160301"),
            ("G04139", "G04027"),
            (
                "frame cracked at the weld near the rear axle.",
                "cross-brace broke while the user was seated.",
            ),
        ),
        Code(
            "A0512",
            1.5,
            0.90,
            (3026,),
            ("E2007", "E160301", "E2002"),
            ("G06004", "G04082"),
            (
                "wheel lock does not hold, the chair rolled away during a transfer.",
                "brakes slipping on a slope, user nearly fell when transferring to bed.",
                "parking brake not engaging fully, chair moved while the user was standing up.",
            ),
            death_effects=("E160304",),
        ),
        Code(
            "A0501",
            2.0,
            0.90,
            (2907,),
            ("E2002", "E2009"),
            ("G04140", "G04052", "G04112"),
            (
                "footrest came off while pushing, user's foot caught.",
                "quick-release rear wheel detached during use.",
                "armrest detached when the user leaned on it.",
            ),
        ),
        Code(
            "A0509",
            1.5,
            0.90,
            (2983,),
            ("E2011",),
            ("G04067", "G06004"),
            (
                "folding mechanism stiff, difficult to fold the {dev}.",
                "backrest release stuck.",
            ),
        ),
        Code(
            "A0414",
            2.0,
            0.90,
            (3024,),
            ("E201401",),
            ("G04050",),
            (
                "seat upholstery torn after {num} months.",
                "backrest fabric ripped at the seam.",
            ),
        ),
        Code(
            "A0508",
            1.0,
            0.90,
            (3273,),
            ("E2403",),
            ("G04022", "G04011"),
            ("squeaking and rattling noise from the front castors.",),
        ),
        Code(
            "A051101",
            0.2,
            0.95,
            (2976,),
            ("E2007", "E160301"),
            ("G04067", "G04027"),
            ("chair partially folded while the user was seated, user fell.",),
        ),
        Code(
            "A2104",
            0.5,
            0.10,
            (2956,),
            ("E2403",),
            ("G04080",),
            ("user could not understand from the manual how to adjust the anti-tippers.",),
            conclusions=CONCLUSIONS_USE,
        ),
    ),
    hazards=(
        Hazard(
            "HZ-WCH-01",
            "Tip-over",
            "Chair tips on kerb or slope",
            "Fall, fracture",
            ("A051202",),
            ("E2007", "E160302"),
            4,
            "alarp",
        ),
        Hazard(
            "HZ-WCH-02",
            "Structural failure",
            "Frame fracture or collapse",
            "Fall, fracture",
            ("A040101", "A051101"),
            ("E2007", "E160301"),
            4,
            "alarp",
        ),
        Hazard(
            "HZ-WCH-03",
            "Brake failure",
            "Wheel locks do not hold during transfer",
            "Fall, fracture",
            ("A0512",),
            ("E2007",),
            4,
            "alarp",
        ),
        Hazard(
            "HZ-WCH-04",
            "Component detachment",
            "Wheel, footrest or armrest detaches",
            "Bruise, laceration",
            ("A0501",),
            ("E2002", "E2009"),
            3,
            "acceptable",
        ),
        Hazard(
            "HZ-WCH-05",
            "Pinch point",
            "Folding mechanism entraps fingers",
            "Pinch injury",
            ("A0509",),
            ("E2011",),
            2,
            "acceptable",
        ),
        Hazard(
            "HZ-WCH-06",
            "Upholstery failure",
            "Torn seat or back",
            "Pressure sore",
            ("A0414",),
            ("E201401",),
            2,
            "acceptable",
        ),
        Hazard(
            "HZ-WCH-07",
            "Unclear instructions",
            "Wrong adjustment by user",
            "Fall",
            ("A2104",),
            ("E2007",),
            2,
            "acceptable",
        ),
    ),
    parts=(
        ComponentPart("AL", "HLT", 1500),
        ComponentPart("BR", "RLK", 1200),
        ComponentPart("TY", "SCW", 3000),
    ),
    sources=(
        ("patient", 0.38),
        ("distributor", 0.30),
        ("customer", 0.20),
        ("healthcare_professional", 0.05),
        ("social_media", 0.05),
        ("regulator", 0.02),
    ),
    contexts=(
        "user is {age} yrs old.",
        "used outdoors daily.",
        "purchased via a homecare dealer.",
        "user could not go out for a week due to the defect.",
        "chair about {num} months old.",
        "used in a nursing home.",
        "",
    ),
    event_lag_days=4.0,
    usage_hours_per_day=(3.0, 10.0),
)

FAMILIES: tuple[Family, ...] = (INFUSA, CARDIOLINK, AURELIA, OXISENSE, STRIDE)

# --------------------------------------------------------------------------------------------
# Markets
# --------------------------------------------------------------------------------------------
# EU27 plus Iceland, Liechtenstein and Norway
EEA = frozenset(
    {
        "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
        "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
        "IS", "LI", "NO",
    }
)  # fmt: skip

# country, weight, market entry (ISO date; before it nothing ships there), language group
COUNTRIES: tuple[tuple[str, float, str, str], ...] = (
    ("US", 0.300, "", "en_us"),
    ("DE", 0.160, "", "de"),
    ("FR", 0.100, "", "fr"),
    ("IT", 0.080, "", "it"),
    ("GB", 0.070, "", "en_gb"),
    ("ES", 0.060, "", "es"),
    ("NL", 0.040, "", "nl"),
    ("JP", 0.040, "2024-10-01", "ja"),
    ("CH", 0.030, "", "de"),
    ("SE", 0.030, "", "sv"),
    ("PL", 0.030, "2023-06-01", "pl"),
    ("CA", 0.030, "", "en_us"),
    ("AU", 0.030, "2023-09-01", "en_gb"),
    ("BE", 0.025, "", "fr"),
    ("AT", 0.020, "", "de"),
    ("TR", 0.020, "2024-04-01", "tr"),
    ("IE", 0.015, "", "en_gb"),
    ("DK", 0.015, "", "sv"),
    ("FI", 0.010, "", "sv"),
    ("PT", 0.010, "", "es"),
    ("CZ", 0.010, "2024-01-01", "pl"),
    ("NO", 0.010, "", "sv"),
)

# Authorities outside the EEA and the US whose reference a locally filed report gets.
LOCAL_AUTHORITY = {"GB": "MHRA", "CH": "SMC", "TR": "TITCK", "CA": "HC", "AU": "TGA", "JP": "PMDA"}

# Event countries of complaints: the markets above, then places devices reach through a market's
# own distribution (no shipments of their own): Puerto Rico (a US territory, served from the US)
# and La Reunion (an EU outermost region, served from France). Indices 0..len(COUNTRIES)-1 are
# the same as in COUNTRIES.
EVENT_COUNTRIES: tuple[tuple[str, float, str, str], ...] = (
    *COUNTRIES,
    ("PR", 0.0, "", "es"),
    ("RE", 0.0, "", "fr"),
)
# (from, to, share): the share of complaints from `from` whose event happened in `to`
TERRITORY_EVENTS = (("US", "PR", 0.02), ("FR", "RE", 0.05))
US_AND_TERRITORIES = frozenset({"US", "PR", "GU", "VI", "AS", "MP", "UM"})
EEA_EVENT = EEA | {"RE"}  # where the EU MDR applies among the event countries above
EU_MEMBER_STATE = {"RE": "FR"}  # the competent authority of an outermost region

# Canadian device class (Medical Devices Regulations, Schedule 1) per family: products.csv
# `ca_class` (an optional column the vigilance rules read for Health Canada's foreign reporting).
CA_CLASS = {"Infusa": "III", "Cardiolink": "IV", "Aurelia": "III", "OxiSense": "II", "Stride": "I"}

# The facts MDCG 2022-21 puts on a PSUR's cover and in its device description (optional
# products.csv columns, README "Inputs for the PSUR"), invented for the demo manufacturer. A
# class I device has no notified body; OxiSense's EMDN code is left out on purpose, so the demo
# report shows how a missing input reads.
PSUR_MANUFACTURER = "Meridian Medical Devices GmbH (demo)"
PSUR_SRN = "DE-MF-000099001"
PSUR_FACTS: dict[str, dict[str, str]] = {
    "Infusa": {
        "notified_body": "Demo Notified Body GmbH, NB 0000",
        "certificate": "DEMO-MDR-IIb-0417",
        "emdn_code": "Z12030501",
        "intended_purpose": "Controlled intravenous infusion of fluids and medicinal products "
        "to adult and paediatric patients in hospitals, operated by trained healthcare "
        "professionals.",
        "uses_per_unit_year": "300",
    },
    "Cardiolink": {
        "notified_body": "Demo Notified Body GmbH, NB 0000",
        "certificate": "DEMO-MDR-III-0201",
        "emdn_code": "J010101",
        "intended_purpose": "Treatment of symptomatic bradyarrhythmias by permanent cardiac "
        "pacing in adult patients, implanted by trained cardiologists.",
    },
    "Aurelia": {
        "notified_body": "Demo Notified Body GmbH, NB 0000",
        "certificate": "DEMO-MDR-III-0388",
        "emdn_code": "P0908",
        "intended_purpose": "Primary and revision total hip arthroplasty in skeletally mature "
        "patients with degenerative joint disease or femoral neck fracture.",
    },
    "OxiSense": {
        "notified_body": "Demo Notified Body GmbH, NB 0000",
        "certificate": "DEMO-MDR-IIa-0552",
        "intended_purpose": "Non-invasive spot-check and continuous monitoring of functional "
        "oxygen saturation (SpO2) and pulse rate in hospitals and at home.",
        "uses_per_unit_year": "730",
    },
    "Stride": {
        "notified_body": "none: class I, self-declared (MDR Art. 52(7))",
        "certificate": "none: EU declaration of conformity DoC-STR-2023",
        "emdn_code": "Y122103",
        "intended_purpose": "Manual wheelchair for indoor and outdoor mobility of persons "
        "with walking impairments, propelled by the user or an attendant.",
        "uses_per_unit_year": "365",
    },
}

# Optional complaint facts: IMDRF-free causality judgement of the firm (contract values).
CAUSALITY = ("", "related", "possibly_related", "unrelated", "unknown")

# People who file the firm's regulatory reports and record its decisions.
REGULATORY_STAFF = ("A. Brandt (RA)", "J. Keller (RA)", "M. Okafor (RA)", "S. Lindqvist (RA)")
DECISION_MAKERS = (
    "Dr. H. Vogel (Head of PMS)",
    "K. Jansen (Vigilance Officer)",
    "Dr. R. Meier (Medical Safety)",
)

# --------------------------------------------------------------------------------------------
# Planted signals (calendar dates; the same in every scale)
# --------------------------------------------------------------------------------------------
RATE_STEP = {"family": "Infusa", "code": "A1407", "onset": "2025-09-01", "factor": 3.0}
DRIFT = {"family": "Stride", "code": "A0512", "onset": "2025-01-01", "factor": 3.5}
BAD_LOT = {"model": "OxiSense PX10", "month": "2025-03", "code": "A090805", "factor": 8.0}
BAD_COMPONENT = {
    "family": "Infusa",
    "part": "BP",
    "month": "2025-05",
    "code": "A070504",
    "factor": 6.0,
}
NEW_MODE = {
    "family": "OxiSense",
    "onset": "2026-02-01",
    "rate": 1.5,
    "codes": (("A26", 0.5), ("A2204", 0.5)),
    "topic": "frozen_reading_after_standby",
}
MAUDE_DISPROPORTION = {"product_code": "DQA", "fda_code": 1561, "onset": "2024-03-01", "prr": 4.0}
EARLY_FAILURE = {
    "model": "Infusa VP350",
    "month": "2025-06",
    "component": "G04090",
    "part": "PN-3510-0472",
}

NEW_MODE_PHRASES = (
    "after waking from standby the display froze on the previous reading ({spo2}%), the value "
    "did not change when moved to another pt.",
    "screen stuck showing old SpO2/pulse values, no dashes, no alarm - only noticed because the "
    "pulse number never changed.",
    "oximeter keeps showing the last pt's reading after being switched on again, freeze clears "
    "only after removing the batteries.",
    "reading frozen at {spo2}% for several minutes while the pt was desaturating per the bedside "
    "monitor.",
    "display hangs after the auto-off/on cycle, numbers static.",
    "values 'stuck' since the latest update, the {dev} shows the same pulse {hr} for ages.",
    "SpO2 and PR values froze after the unit woke up from sleep mode; had to pull the batteries "
    "to get live readings again.",
    "the numbers on the screen don't update anymore after standby, looks like it is measuring "
    "but it is not.",
)

# --------------------------------------------------------------------------------------------
# Narrative fragments shared by all families
# --------------------------------------------------------------------------------------------
OPENERS: dict[str, tuple[str, ...]] = {
    "customer": (
        "Customer reports:",
        "Hospital biomed called:",
        "Email from customer:",
        "Clinical engineering reported that",
        "Customer states",
        "Per customer,",
        "Purchasing dept forwarded:",
    ),
    "distributor": (
        "Distributor reports:",
        "Forwarded by distributor:",
        "Dist. reported",
        "Our distributor informed us that",
        "Dealer email:",
    ),
    "field_service": (
        "FSE visit:",
        "Field service engineer found",
        "During the service visit tech noted",
        "Service report:",
        "Rep onsite reports",
    ),
    "healthcare_professional": (
        "HCP reports",
        "Dr. reports",
        "RN reported",
        "Nurse called to report",
        "Physician reported that",
        "Reported by the surgeon:",
        "Ward sister called:",
    ),
    "patient": (
        "Pt called:",
        "Patient states",
        "User reports",
        "Caller (pt) says",
        "pxt called hotline:",
        "Family member called on behalf of the pt:",
    ),
    "literature": ("Literature review: case report describes", "Published case report:"),
    "clinical_study": ("Study site reported (AE form):", "Clinical study AE report:"),
    "social_media": ("Social media post flagged by marketing:", "Online review says:"),
    "regulator": ("Competent authority forwarded a user report:", "Authority forwarded a report:"),
}

OUTCOME_PHRASES: dict[str, tuple[str, ...]] = {
    "none": (
        "No pt harm reported.",
        "no injury.",
        "No adverse consequence to the patient.",
        "pt ok.",
        "No harm, therapy continued w/ a backup device.",
        "",
        "",
    ),
    "injury": (
        "pt required additional monitoring, recovered.",
        "minor injury, treated on the ward.",
        "pt had {he}, resolved.",
        "pt experienced {he}.",
        "{he} reported, treated conservatively.",
        "pt needed extra monitoring due to {he}, recovered.",
    ),
    "serious_injury": (
        "required medical intervention.",
        "pt hospitalised for {num} days.",
        "{he} - pt needed urgent intervention.",
        "pt admitted w/ {he}.",
        "pt had to be hospitalised.",
        "serious injury: {he}.",
    ),
    "death": (
        "pt expired.",
        "patient died later that day; relationship to the device unknown.",
        "pt passed away {num} days after the event.",
        "pt died ({he}).",
    ),
    "unknown": ("outcome unknown.", "no info on pt condition.", "Pt status not provided.", ""),
}

CLOSERS = (
    "",
    "",
    "",
    "Device will be returned for investigation.",
    "Requesting RMA.",
    "Replacement requested.",
    "pls advise.",
    "Product not available for return.",
    "Lot number provided by reporter.",
    "Reporter does not want to be contacted again.",
    "Photos attached to the email.",
    "Urgent - customer wants feedback this week.",
)

FOLLOWUP_PHRASES = (
    "Follow-up {fdate}: device received for evaluation.",
    "Add. info {fdate}: {pt} stable.",
    "FU w/ reporter {fdate}: event happened during night shift, no further details.",
    "Update {fdate}: replacement unit shipped.",
    "Per follow-up call on {fdate}, lot no. confirmed.",
    "{fdate}: reporter confirmed the device was used per IFU.",
)

ESCALATION_PHRASES: dict[str, tuple[str, ...]] = {
    "death": (
        "UPDATE {fdate}: reporter informed us that the pt died; cause of death under review.",
        "Follow-up received {fdate}: patient expired {num} days after the event, physician "
        "cannot exclude device involvement.",
        "{fdate} update from hospital: pt passed away, autopsy requested.",
    ),
    "serious_injury": (
        "UPDATE {fdate}: pt condition worsened, admitted to ICU.",
        "Follow-up {fdate}: surgical intervention was required after all.",
        "{fdate}: hospital reports the pt was hospitalised because of the event.",
    ),
    "injury": ("Follow-up {fdate}: pt did experience {he} after all.",),
}

# Appended to the narrative of the version that lowers an outcome first reported as serious.
DOWNGRADE_PHRASES = (
    "Correction {fdate}: reporter clarifies the pt was not seriously harmed; the earlier "
    "account was mistaken.",
    "Follow-up {fdate}: treating physician confirms no serious injury; initial report was based "
    "on hearsay.",
    "{fdate} update: the pt is well, the first report confused this event with another case.",
)

NOT_INVESTIGATED_REASONS = (
    "Similar investigation already open (trend monitored under CAPA)",
    "Complaint is a user preference, no failure to meet specification alleged",
    "Device not returned and no further information available; trend monitoring only",
    "Duplicate of an earlier complaint from the same facility",
    "Known and documented use error covered by the IFU; no investigation required",
)

# word -> misspelling or abbreviation, applied to a share of narratives
TYPOS: tuple[tuple[str, str], ...] = (
    ("received", "recieved"),
    ("occurred", "occured"),
    ("patient", "pateint"),
    ("infusion", "infusoin"),
    ("battery", "batery"),
    ("display", "dispaly"),
    ("alarm", "alaram"),
    ("reading", "readng"),
    ("separately", "seperately"),
    ("immediately", "immediatly"),
    ("approx", "aprox"),
    ("because", "b/c"),
    (" with ", " w/ "),
    (" without ", " w/o "),
    ("due to", "d/t"),
    ("patient", "pt"),
    (" the ", " teh "),
    ("replacement", "replacment"),
    ("surgery", "sx"),
    ("hospital", "hosp."),
    ("reported", "rep."),
)

DRUGS = (
    "heparin",
    "vancomycin",
    "propofol",
    "insulin",
    "morphine",
    "norepinephrine",
    "TPN",
    "oxytocin",
    "piperacillin/tazobactam",
    "NaCl 0.9%",
    "fentanyl",
    "dobutamine",
)

FIRMWARE = ("SW v3.8.2", "SW v4.1.0", "SW v4.1.2", "fw 4.2", "v4.2.1")

HOSPITAL_WORDS = (
    "St. Mary's Hospital",
    "Klinikum Nord",
    "Hôpital Saint-Louis",
    "Ospedale San Carlo",
    "Hospital del Mar",
    "Regional Medical Center",
    "University Hospital",
    "Mercy General",
    "Kantonsspital",
    "Karolinska area clinic",
)
