"""Form readiness: for each open regulatory report, which fields the authority's form needs, which
of them the complaint data already has, and which the person filing still has to collect.

`config/report_forms.csv` lists, per form, the fields that matter for the person filing, the
pipeline column that supplies each (empty when none does) and the citation:

- `FDA_3500A`: Form FDA 3500A (MedWatch, mandatory reporting), whose content for a manufacturer's
  individual report is 21 CFR 803.52: (a) patient information (section A), (b) adverse event or
  product problem (B), (c) device information (D), (d) initial reporter (E), (e) reporting
  information for all manufacturers (G), (f) device manufacturer information (H);
- `EU_MIR`: the EU Manufacturer Incident Report, form version 7.3.1 (Regulation (EU) 2017/745
  Art. 87), by the form's sections 1 to 4;
- `HC_MDPR`: Health Canada's mandatory medical device problem report, whose preliminary report
  content is Medical Devices Regulations SOR/98-282 s. 60(2)(a) to (i).

Items the filer's own records supply and that need nothing from the complaint (the firm's name,
address and contact office, report numbers, the date and type of the report being filed, labelled
single-use, Basic UDI-DI and nomenclature code) are left out on purpose, so that what is listed is
what a person may have to go and get.

`required` is `true` when the form or regulation requires the field (all of 21 CFR 803.52 "if
known or reasonably known", 803.50(b)) and `conditional` when it applies only sometimes (serial
numbers, implant dates, investigation codes before the investigation ends). Per report:

- `fields_required`: the form's `true` fields; `fields_present`: those whose column holds a value;
- `to_collect_always`: `true` fields no pipeline column supplies (the same for every report of a
  form: the data can never fill them);
- `missing`: `true` fields a column could supply but which are absent, null, empty or whitespace
  for this complaint, in the CSV's order;
- so `fields_required = fields_present + len(missing) + len(to_collect_always)`;
- `ready`: nothing is missing, i.e. the data holds everything it can; what remains is
  `to_collect_always`;
- `conditional_missing`: `conditional` fields not in the data, to collect when they apply.

Pure: polars and the standard library only.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
FORMS_CSV = CONFIG_DIR / "report_forms.csv"

# regime (config/vigilance_regimes.csv) -> the form its individual reports are filed on
REGIME_FORMS: dict[str, str] = {
    "FDA_MDR": "FDA_3500A",  # 21 CFR 803.52: "correspond generally to the format of Form 3500A"
    "EU_MDR": "EU_MIR",  # Regulation (EU) 2017/745 Art. 87; MIR form 7.3.1
    "HC_CMDR": "HC_MDPR",  # SOR/98-282 ss. 59-61
}
# report kinds of a regime that are not filed on that regime's form: the foreign risk notice of
# SOR/98-282 s. 61.2 is a notification of its own, not the s. 60 problem report
OTHER_FORM_KINDS: frozenset[tuple[str, str]] = frozenset({("HC_CMDR", "foreign_risk_notice")})

REQUIRED_VALUES = ("true", "conditional")
FORM_COLUMNS = ("form", "section", "field", "source_column", "required", "source", "note")
SEPARATOR = "; "

READINESS_SCHEMA: dict[str, pl.DataType] = {
    "complaint_id": pl.String(),
    "regime": pl.String(),
    "report_kind": pl.String(),
    "form": pl.String(),
    "fields_required": pl.Int64(),
    "fields_present": pl.Int64(),
    "missing": pl.String(),
    "to_collect_always": pl.String(),
    "ready": pl.Boolean(),
    "conditional_missing": pl.String(),
}
REPORT_KEY = ("complaint_id", "regime", "report_kind")


@dataclass(frozen=True)
class FormField:
    """One field of a regulatory form (a row of `config/report_forms.csv`)."""

    form: str  # FDA_3500A | EU_MIR | HC_MDPR
    section: str  # 3500A section letter, MIR section, or CMDR paragraph such as 60(2)(a)
    field: str  # the form's own label, short; unique within the form
    source_column: str  # the pipeline column that supplies it; "" when none does
    required: str  # true | conditional
    source: str  # citation: 21 CFR 803.52(x)(n), MIR 7.3.1 section, SOR/98-282 s. 60(2)(x)
    note: str

    @property
    def is_required(self) -> bool:
        """True when the form or regulation always requires the field."""
        return self.required == "true"


def load_form_fields(path: Path | None = None) -> tuple[FormField, ...]:
    """Read `config/report_forms.csv` (or `path`) in file order.

    Raises ValueError on a missing column, a `required` value other than `true`/`conditional`,
    an empty form, label or citation, or a label repeated within a form: a form's labels are what
    `form_readiness` lists, so they must be unambiguous.
    """
    p = path or FORMS_CSV
    with p.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        absent = [c for c in FORM_COLUMNS if c not in (reader.fieldnames or [])]
        if absent:
            raise ValueError(f"{p}: missing column(s) {', '.join(absent)}")
        fields = tuple(FormField(**{c: (r[c] or "").strip() for c in FORM_COLUMNS}) for r in reader)
    seen: set[tuple[str, str]] = set()
    for i, fld in enumerate(fields, start=2):  # row 1 is the header
        if not fld.form or not fld.field:
            raise ValueError(f"{p} row {i}: form and field must not be empty")
        if fld.required not in REQUIRED_VALUES:
            raise ValueError(
                f"{p} row {i}: required is {fld.required!r}, expected one of {REQUIRED_VALUES}"
            )
        if not fld.source:
            raise ValueError(f"{p} row {i}: {fld.form} {fld.field!r} has no citation")
        if (fld.form, fld.field) in seen:
            raise ValueError(f"{p} row {i}: {fld.form} lists {fld.field!r} twice")
        seen.add((fld.form, fld.field))
    return fields


def form_for(regime: str, report_kind: str) -> str | None:
    """The form a report of `regime` is filed on: FDA_MDR -> FDA_3500A (21 CFR 803.52), EU_MDR ->
    EU_MIR (MIR form 7.3.1), HC_CMDR -> HC_MDPR (SOR/98-282 s. 60); None for any other regime
    (e.g. NONE_ENCODED: assess locally) and for a report kind filed on a form of its own (the
    Health Canada foreign risk notice, s. 61.2)."""
    if (regime, report_kind) in OTHER_FORM_KINDS:
        return None
    return REGIME_FORMS.get(regime)


def _present(complaints: pl.DataFrame, column: str) -> pl.Expr:
    """True where `column` holds a value: absent, null, empty and whitespace-only are missing."""
    if column not in complaints.columns:
        return pl.lit(False)
    return pl.col(column).cast(pl.String).str.strip_chars().fill_null("").ne("").fill_null(False)


def _current(complaints: pl.DataFrame) -> pl.DataFrame:
    """One row per complaint_id: the latest `updated_at` when the caller passed several versions
    (the data contract: a later version supersedes an earlier one), else the last row."""
    df = complaints.with_columns(pl.col("complaint_id").cast(pl.String))
    if "updated_at" in df.columns:
        df = df.sort("updated_at", nulls_last=False, maintain_order=True)
    return df.unique("complaint_id", keep="last", maintain_order=True)


def _labels(pairs: list[tuple[pl.Expr, str]]) -> pl.Expr:
    """'; '-join, in order, the labels whose condition is true."""
    if not pairs:
        return pl.lit("")
    return (
        pl.concat_list([pl.when(cond).then(pl.lit(label)) for cond, label in pairs])
        .list.drop_nulls()
        .list.join(SEPARATOR)
    )


def _presence_col(column: str) -> str:
    return f"__present__{column}"


def form_readiness(
    reports: pl.DataFrame,
    complaints: pl.DataFrame,
    fields: Iterable[FormField] | None = None,
) -> pl.DataFrame:
    """Per open report, the form's required fields and which of them the complaint data has.

    `reports` holds the open obligations (`complaint_id`, `regime`, `report_kind`); `complaints`
    the current version of each complaint, columns named as the data contract names them (any may
    be absent). A report whose regime has no form (`form_for` is None) gets no row; a report whose
    complaint is not in `complaints` has every data-supplied field missing. Sorted by
    complaint_id, regime, report_kind. See the module docstring for the columns.
    """
    flds = load_form_fields() if fields is None else tuple(fields)
    keys = reports.select([pl.col(c).cast(pl.String) for c in REPORT_KEY]).unique(
        maintain_order=True
    )
    kinds = keys.select("regime", "report_kind").unique(maintain_order=True)
    forms = kinds.with_columns(
        form=pl.Series(
            [form_for(g, k) for g, k in kinds.iter_rows()], dtype=pl.String, strict=False
        )
    )
    keys = keys.join(forms, on=["regime", "report_kind"], how="inner", nulls_equal=True).filter(
        pl.col("form").is_not_null()
    )
    if keys.is_empty():
        return pl.DataFrame(schema=READINESS_SCHEMA)

    current = _current(complaints) if "complaint_id" in complaints.columns else None
    columns = sorted({f.source_column for f in flds if f.source_column})
    if current is None:
        presence = pl.DataFrame(schema={"complaint_id": pl.String})
    else:
        presence = current.select(
            "complaint_id", *[_present(current, c).alias(_presence_col(c)) for c in columns]
        )
    joined = keys.join(presence, on="complaint_id", how="left")
    joined = joined.with_columns(
        [
            (pl.col(_presence_col(c)) if _presence_col(c) in joined.columns else pl.lit(False))
            .fill_null(False)
            .alias(_presence_col(c))
            for c in columns
        ]
    )

    parts = []
    for form in sorted(set(joined["form"])):
        form_fields = [f for f in flds if f.form == form]
        required = [f for f in form_fields if f.is_required]
        supplied = [f for f in required if f.source_column]
        always = [f.field for f in required if not f.source_column]
        conditional = [f for f in form_fields if not f.is_required]
        present = [pl.col(_presence_col(f.source_column)) for f in supplied]
        missing = _labels([(~pl.col(_presence_col(f.source_column)), f.field) for f in supplied])
        parts.append(
            joined.filter(pl.col("form") == form).select(
                *REPORT_KEY,
                "form",
                fields_required=pl.lit(len(required), dtype=pl.Int64),
                fields_present=(
                    pl.sum_horizontal([p.cast(pl.Int64) for p in present])
                    if present
                    else pl.lit(0, dtype=pl.Int64)
                ).cast(pl.Int64),
                missing=missing,
                to_collect_always=pl.lit(SEPARATOR.join(always), dtype=pl.String),
                conditional_missing=_labels(
                    [
                        (
                            ~pl.col(_presence_col(f.source_column))
                            if f.source_column
                            else pl.lit(True),
                            f.field,
                        )
                        for f in conditional
                    ]
                ),
            )
        )
    out = pl.concat(parts, how="vertical").with_columns(ready=pl.col("missing") == "")
    return out.select(list(READINESS_SCHEMA)).cast(READINESS_SCHEMA).sort(list(REPORT_KEY))
