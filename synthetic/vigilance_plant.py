"""What the firm filed and what its people decided: `submissions/` and `determinations/`.

Built from the simulated complaints after their versions are known. Most reports follow the
firm's practice (one legacy `reported_date`, filed the same day with every authority the firm
thinks concerned); the situations the law cares about are planted on top, from their own random
streams, so that the truth (`synthetic/vigilance_truth.py`) has them to find:

- a complaint reportable to two authorities filed with only one of them, or late with one;
- FDA supplemental reports (21 CFR 803.56), EU follow-up and final reports (MDR Art. 87(6)),
  EU `final_non_reportable` reports after a downgrade, Health Canada final reports (s. 61);
- reportability decisions (most agree with the firm's filing; a few "no" against its own rule
  and a few "yes" on complaints still in doubt), causality `unrelated` on some deaths, one
  `remedial_action_required` (21 CFR 803.53, a 5-day report), one `fda_request`, one
  `serious_public_health_threat` on an EEA complaint (MDR Art. 87(4)), two `fsca_decision` on a
  device model sold in Canada and elsewhere (a class I one, SOR/98-282 s. 59(2), and a class III
  one, s. 61.2), and a few `signal_evaluation` rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from synthetic import catalog, rules
from synthetic.complaints import SOURCE_INDEX, Complaints, cid_series, report_id_series
from synthetic.distribution import Calendar, Portfolio
from synthetic.util import date_of, day, stream, write_csv

SUBMISSION_COLUMNS = (
    "complaint_id",
    "authority",
    "report_kind",
    "submitted_date",
    "report_number",
    "submitted_by",
)
DETERMINATION_COLUMNS = (
    "determination_id",
    "kind",
    "subject",
    "value",
    "decided_on",
    "decided_by",
    "rationale",
)

# fixed days of the planted decisions (the calendar's extract is fixed: 2026-10-31)
REMEDIAL_DAY = "2026-10-09"  # a Friday before Columbus Day (Mon 2026-10-12)
REMEDIAL_REPORT_DAY = "2026-10-16"  # within 5 work days (due Mon 2026-10-19)
FDA_REQUEST_DAY = "2026-10-23"  # a Friday: due Fri 2026-10-30, not filed by the extract
FSCA_CLASS_I = ("Stride Active", "2026-09-15")
FSCA_CLASS_III = ("Aurelia C Stem", "2026-10-31")
SKIP_SHARE = 0.015  # of complaints reportable to 2+ of FDA, EU, HC: one of them never filed
LATE_SHARE = 0.03  # ... filed late with one of them
EU_FOLLOW_UP_SHARE = 0.5
FINAL_SHARE = 0.7
DOWNGRADE_FINAL_SHARE = 0.6
REPORTABILITY_RECORD_SHARE = 0.4  # of decided complaints with a recorded determination


@dataclass
class Sub:
    ci: int
    authority: str
    kind: str
    day: int


def write_vigilance(
    out: Path,
    cal: Calendar,
    pf: Portfolio,
    cs: Complaints,
    sig_rows: list[dict[str, object]],
    versions: pl.DataFrame,
    seed: int,
) -> dict[str, int]:
    """Write `submissions/` and `determinations/`; return row counts."""
    p = _Plant(cal, pf, cs, versions, seed)
    p.initial_reports()
    p.special_decisions()
    p.later_reports()
    p.people_decisions(sig_rows)
    n_sub = p.write_submissions(out)
    n_det = p.write_determinations(out)
    return {"submissions": n_sub, "determinations": n_det}


class _Plant:
    def __init__(
        self, cal: Calendar, pf: Portfolio, cs: Complaints, versions: pl.DataFrame, seed: int
    ) -> None:
        self.cal, self.pf, self.cs, self.seed = cal, pf, cs, seed
        self.versions = versions
        self.names = [c[0] for c in catalog.EVENT_COUNTRIES]
        self.cid = cid_series(cs, np.arange(cs.n)).to_list()
        self.legacy_id = report_id_series(cs, np.arange(cs.n)).to_list()
        self.subs: list[Sub] = []
        self.dets: list[dict[str, object]] = []
        self.initial: dict[tuple[int, str], int] = {}  # (complaint, authority) -> initial day
        self.reserved: set[int] = set()  # complaints a special decision is planted on
        clinical = cs.source == SOURCE_INDEX["clinical_study"]
        self.usable = (cs.bad < 0) & ~clinical
        with np.errstate(invalid="ignore"):
            self.rep_day = np.where(np.isfinite(cs.t_report), cs.rd + cs.t_report, -1).astype(
                np.int64
            )

    # ---- helpers ---------------------------------------------------------------------------

    def authorities(self, i: int) -> list[str]:
        cs = self.cs
        cc = self.names[int(cs.country[i])]
        out = []
        if cs.fda_applies[i]:
            out.append("FDA")
        if cs.eu_applies[i]:
            out.append("EU:" + catalog.EU_MEMBER_STATE.get(cc, cc))
        if cs.hc_applies[i]:
            out.append("HC")
        if cc in catalog.LOCAL_AUTHORITY and cc != "CA":  # a regime the truth does not encode
            out.append(catalog.LOCAL_AUTHORITY[cc])
        return out

    def add(self, i: int, authority: str, kind: str, d: int) -> None:
        if d <= self.cal.extract_day:
            self.subs.append(Sub(int(i), authority, kind, int(d)))
            if kind == "initial":
                key = (int(i), authority)
                self.initial[key] = min(self.initial.get(key, d), int(d))

    def det(self, kind: str, subject: str, value: str, d: int, by: int, why: str) -> None:
        if d <= self.cal.extract_day:
            self.dets.append(
                {
                    "kind": kind,
                    "subject": subject,
                    "value": value,
                    "decided_on": date_of(d).isoformat(),
                    "decided_by": catalog.DECISION_MAKERS[by % len(catalog.DECISION_MAKERS)],
                    "rationale": why,
                }
            )

    # ---- the firm's reports ----------------------------------------------------------------

    def initial_reports(self) -> None:
        """Every reported complaint filed with each authority the firm thinks concerned, on the
        legacy reported day; some filed with only one of two, some late with one."""
        cs = self.cs
        rng = stream(self.seed, "submissions")
        n = cs.n
        u_skip, u_late, u_which = rng.random(n), rng.random(n), rng.random(n)
        lag = 25 + rng.geometric(1 / 10.0, n)
        for i in np.nonzero((self.rep_day >= 0) & self.usable)[0]:
            auths = self.authorities(i)
            main = [a for a in auths if a == "FDA" or a == "HC" or a.startswith("EU:")]
            hit = main[int(u_which[i] * len(main))] if len(main) >= 2 else ""
            skip = bool(hit) and u_skip[i] < SKIP_SHARE
            late = bool(hit) and not skip and u_late[i] < LATE_SHARE
            for a in auths:
                if skip and a == hit:
                    continue
                d = int(self.rep_day[i]) + (int(lag[i]) if late and a == hit else 0)
                self.add(i, a, "initial", d)

    def later_reports(self) -> None:
        """Supplemental (FDA), follow-up and final (EU), final (HC), final non-reportable after
        a downgrade (EU)."""
        cs = self.cs
        rng = stream(self.seed, "submissions-later")
        v = self.versions
        ci = v["ci"].to_numpy()
        new_info = v["new_info"].to_numpy()
        sup_day = v["sup_day"].to_numpy()
        day_v = v["day_v"].to_numpy()
        u = rng.random(ci.size)
        lag = rng.integers(1, 21, ci.size)
        eu_of = {k: a for (k, a) in self.initial if a.startswith("EU:")}
        for j in np.nonzero(new_info)[0]:
            i = int(ci[j])
            if not self.usable[i]:
                continue
            fda = self.initial.get((i, "FDA"))
            if sup_day[j] >= 0 and fda is not None and sup_day[j] >= fda:
                self.add(i, "FDA", "supplemental", int(sup_day[j]))
            eu = eu_of.get(i)
            if eu and u[j] < EU_FOLLOW_UP_SHARE and day_v[j] >= self.initial[(i, eu)]:
                self.add(i, eu, "follow_up", int(day_v[j] + lag[j]))
        n = cs.n
        u_fin, u_dg = rng.random(n), rng.random(n)
        fin_lag, dg_lag = rng.integers(0, 15, n), rng.integers(1, 21, n)
        with np.errstate(invalid="ignore"):
            close_day = np.where(np.isfinite(cs.t_close), cs.rd + cs.t_close, -1).astype(np.int64)
            change_day = np.where(np.isfinite(cs.t_change), cs.rd + cs.t_change, -1).astype(
                np.int64
            )
        for (i, a), d0 in sorted(self.initial.items()):
            if (a == "HC" or a.startswith("EU:")) and close_day[i] >= d0 and u_fin[i] < FINAL_SHARE:
                self.add(i, a, "final", int(close_day[i] + fin_lag[i]))
        for i in np.nonzero(cs.downgraded & cs.eu_applies & self.usable)[0]:
            if u_dg[i] < DOWNGRADE_FINAL_SHARE and change_day[i] >= 0:
                cc = self.names[int(cs.country[i])]
                a = "EU:" + catalog.EU_MEMBER_STATE.get(cc, cc)
                self.add(i, a, "final_non_reportable", int(change_day[i] + dg_lag[i]))

    # ---- decisions that start their own clocks ---------------------------------------------

    def _pick(self, rng: np.random.Generator, ok: np.ndarray) -> int:
        """A complaint to plant a decision on (-1 when a small scale has none that fits)."""
        cand = np.nonzero(ok & self.usable)[0]
        cand = np.array([c for c in cand if int(c) not in self.reserved], dtype=np.int64)
        if not cand.size:
            return -1
        i = int(rng.choice(cand))
        self.reserved.add(i)
        return i

    def special_decisions(self) -> None:
        cs = self.cs
        rng = stream(self.seed, "special-decisions")
        us = cs.country == self.names.index("US")
        decided_yes = cs.decision & ~cs.escalated & ~cs.downgraded
        # 21 CFR 803.53(a): remedial action to prevent an unreasonable risk -> 5 work days
        d = day(REMEDIAL_DAY)
        i = self._pick(
            rng,
            us & decided_yes & (self.rep_day >= 0) & (cs.rd >= d - 18) & (cs.rd <= d - 2),
        )
        if i >= 0:
            self._remedial(i, d)
        # 21 CFR 803.53(b): FDA asks in writing -> 5 work days; not filed by the extract
        d = day(FDA_REQUEST_DAY)
        i = self._pick(
            rng,
            us & cs.decision & (self.rep_day < 0) & (cs.rd >= d - 30) & (cs.rd <= d - 3)
            | us & cs.decision & (self.rep_day > self.cal.extract_day) & (cs.rd <= d - 3),
        )
        if i >= 0:
            self.det(
                "fda_request",
                self.cid[i],
                "yes",
                d,
                1,
                "FDA letter requests a 5-day report on this event (21 CFR 803.53(b))",
            )
        # MDR Art. 87(4): serious public health threat on an EEA complaint -> 2 days
        i = self._pick(
            rng,
            cs.eu_applies
            & decided_yes
            & (self.rep_day >= 0)
            & (cs.rd >= self.cal.extract_day - 60)
            & (cs.rd <= self.cal.extract_day - 20),
        )
        if i >= 0:
            self._public_health_threat(i)
        self._fsca()

    def _remedial(self, i: int, d: int) -> None:
        self.det(
            "remedial_action_required",
            self.cid[i],
            "yes",
            d,
            0,
            "Investigation shows the failure can recur on other units of the lot; remedial "
            "action needed to prevent an unreasonable risk of substantial harm to public "
            "health (21 CFR 803.53(a))",
        )
        rd = day(REMEDIAL_REPORT_DAY)
        self.subs = [s for s in self.subs if not (s.ci == i and s.authority == "FDA")]
        self.initial.pop((i, "FDA"), None)
        self.add(i, "FDA", "initial", min(int(self.rep_day[i]), rd))

    def _public_health_threat(self, i: int) -> None:
        cs = self.cs
        d = int(cs.rd[i]) + 2
        self.det(
            "serious_public_health_threat",
            self.cid[i],
            "yes",
            d,
            2,
            "Cluster of similar serious incidents in several member states within days; "
            "risk of serious harm to many patients (MDR Art. 2(66))",
        )
        cc = self.names[int(cs.country[i])]
        a = "EU:" + catalog.EU_MEMBER_STATE.get(cc, cc)

        self.subs = [s for s in self.subs if not (s.ci == i and s.authority == a)]
        self.initial.pop((i, a), None)
        self.add(i, a, "initial", min(int(self.rep_day[i]), d + 1))

    def _fsca(self) -> None:
        """Field safety corrective actions on models sold in Canada and elsewhere."""
        cs = self.cs
        model_names = [m.name for m in self.pf.models]
        ca = self.names.index("CA")
        for (model, when), why in zip(
            (FSCA_CLASS_I, FSCA_CLASS_III),
            (
                "Field safety corrective action: retrofit of the frame clamp on all units "
                "(falls reported abroad)",
                "Field safety corrective action: recall of two stem sizes with early "
                "loosening (revision surgery reported abroad)",
            ),
            strict=True,
        ):
            d = day(when)
            self.det("fsca_decision", model, "yes", d, 0, why)
            if model != FSCA_CLASS_I[0]:
                continue
            # s. 59(2): the firm reports a few of the serious foreign incidents to HC
            mi = model_names.index(model)
            serious = np.nonzero(
                (cs.model == mi) & (cs.country != ca) & cs.decision & (cs.rd <= d) & self.usable
            )[0]
            for k, j in enumerate(serious):
                if k % 2 == 0:
                    self.add(int(j), "HC", "initial", d + 4 + k % 5)

    # ---- people's decisions ----------------------------------------------------------------

    def people_decisions(self, sig_rows: list[dict[str, object]]) -> None:
        cs = self.cs
        ext = self.cal.extract_day
        rng = stream(self.seed, "determinations")
        n = cs.n
        u, who = rng.random(n), rng.integers(0, 3, n)
        with np.errstate(invalid="ignore"):
            decide = np.where(np.isfinite(cs.t_decide), cs.rd + cs.t_decide, -1).astype(np.int64)
            change = np.where(np.isfinite(cs.t_change), cs.rd + cs.t_change, -1).astype(np.int64)
            triage = (cs.rd + cs.t_triage).astype(np.int64)
        outcome_now = np.where(change >= 0, cs.outcome, cs.outcome0)
        # reportability: a share of decided complaints carry the record behind their decision
        yes_why = "Meets the firm's reporting criteria; report filed with the authorities"
        no_why = "No death, serious injury or serious malfunction alleged"
        for i in np.nonzero(self.usable & (decide >= 0) & (decide <= ext))[0]:
            if cs.overruled[i]:
                self.det(
                    "reportability",
                    self.cid[i],
                    "no",
                    int(decide[i]),
                    int(who[i]),
                    "Event judged unrelated to a device failure by the complaint handler; "
                    "QA requests second review",
                )
                continue
            if u[i] >= REPORTABILITY_RECORD_SHARE:
                continue
            first = bool(cs.decision0[i])
            self.det(
                "reportability",
                self.cid[i],
                "yes" if first else "no",
                int(decide[i]),
                int(who[i]),
                yes_why if first else no_why,
            )
            if change[i] >= 0 and bool(cs.decision[i]) != first:
                self.det(
                    "reportability",
                    self.cid[i],
                    "yes" if cs.decision[i] else "no",
                    int(max(change[i], decide[i]) + 1),
                    int(who[i]),
                    "Re-assessed after new information: "
                    + (yes_why if cs.decision[i] else "outcome corrected, " + no_why.lower()),
                )
        # a few complaints still in doubt (outcome unknown) recorded as reportable (Art. 87(7))
        doubt = np.nonzero(
            self.usable
            & (outcome_now == rules.UNKNOWN)
            & ~cs.decision
            & (self.rep_day < 0)
            & (decide >= 0)
            & (decide < ext - 40)
        )[0]
        for i in doubt[np.argsort(u[doubt], kind="stable")][:5]:
            self.det(
                "reportability",
                self.cid[i],
                "yes",
                int(decide[i]) + 1,
                int(who[i]),
                "Outcome still unknown: reportable as a precaution (MDR Art. 87(7)); "
                "report in preparation",
            )
        # causality: every "unrelated" judgement on a death is recorded; a share of the others
        hurt = (cs.caus > 0) & self.usable & (triage <= ext)
        for i in np.nonzero(hurt)[0]:
            death = cs.outcome[i] == rules.DEATH or cs.outcome0[i] == rules.DEATH
            value = catalog.CAUSALITY[int(cs.caus[i])]
            if (value == "unrelated" and death) or ((death or u[i] < 0.15) and value != "unknown"):
                self.det(
                    "causality",
                    self.cid[i],
                    value,
                    int(triage[i]) + 1,
                    int(who[i]),
                    {
                        "related": "Device malfunction caused the harm",
                        "possibly_related": "Device involvement cannot be excluded",
                        "unrelated": "Harm explained by the underlying disease; the device "
                        "performed as intended",
                    }[value],
                )
        # signal evaluations of the planted signals: the review board names the signal's topic
        # (data contract scope, its value and the problem code), not a method's alarm
        values = {"bad_lot": "confirmed", "rate_step": "confirmed", "drift": "refuted"}
        for r in sig_rows:
            kind = str(r["kind"])
            if kind in values:
                onset = day(str(r["onset_date"]))
                scope = "lot" if r["scope"] == "component_lot" else str(r["scope"])
                self.det(
                    "signal_evaluation",
                    f"{scope}:{r['scope_value']}:{r['code']}",
                    values[kind],
                    max(onset + 120, ext - 30),
                    0,
                    f"Signal review board: {kind.replace('_', ' ')} of {r['scope_value']} x "
                    f"{r['code']} {values[kind]}",
                )

    # ---- files -----------------------------------------------------------------------------

    def write_submissions(self, out: Path) -> int:
        seen: set[tuple[int, str, str, int]] = set()
        rows = []
        cs = self.cs
        for s in sorted(self.subs, key=lambda s: (s.day, self.cid[s.ci], s.authority, s.kind)):
            key = (s.ci, s.authority, s.kind, s.day)
            if key in seen:
                continue
            seen.add(key)
            tail = self.cid[s.ci][4:]
            if s.authority == "FDA":
                number = self.legacy_id[s.ci] if cs.rep_auth[s.ci] == 0 else ""
                if not number:
                    number = f"{catalog.FDA_REGISTRATION}-{date_of(s.day).year}-9{tail[-4:]}"
            elif s.authority.startswith("EU:"):
                number = f"MIR-{self.names[int(cs.country[s.ci])]}-{tail}"
            else:
                number = f"{s.authority}-{tail}"
            staff = catalog.REGULATORY_STAFF
            rows.append(
                {
                    "complaint_id": self.cid[s.ci],
                    "authority": s.authority,
                    "report_kind": s.kind,
                    "submitted_date": date_of(s.day).isoformat(),
                    "report_number": number,
                    "submitted_by": staff[(s.ci + s.day) % len(staff)],
                }
            )
        df = pl.DataFrame(rows, schema=dict.fromkeys(SUBMISSION_COLUMNS, pl.String))
        _write_monthly(df, "submitted_date", out / "submissions", "submissions")
        return df.height

    def write_determinations(self, out: Path) -> int:
        rows = sorted(self.dets, key=lambda r: (r["decided_on"], r["kind"], r["subject"]))
        for k, r in enumerate(rows):
            r["determination_id"] = f"DET-{k + 1:06d}"
        df = pl.DataFrame(rows, schema=dict.fromkeys(DETERMINATION_COLUMNS, pl.String)).select(
            DETERMINATION_COLUMNS
        )
        _write_monthly(df, "decided_on", out / "determinations", "determinations")
        return df.height


def _write_monthly(df: pl.DataFrame, date_col: str, folder: Path, prefix: str) -> None:
    df = df.with_columns(pl.col(date_col).str.slice(0, 7).alias("_m"))
    for (month,), part in df.group_by(["_m"], maintain_order=True):
        write_csv(part.drop("_m"), folder / f"{prefix}_{month}.csv")
