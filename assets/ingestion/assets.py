"""Ingestion assets: reference code tables and every landing source into DuckDB.

Thin: find the new files, hand each to its loader through the driver, attach metadata. The asset
key is the warehouse path (`staging/complaints` is table `staging.complaints`).
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from assets.ingestion import fda
from assets.ingestion.driver import (
    FileOutcome,
    ingest_files,
    ingest_pending,
    landing_files,
    pending_files,
)
from assets.ingestion.landing_csv import (
    CURRENT_COMPLAINTS_TABLE,
    PreparedCsv,
    commit_landing_csv,
    ensure_landing_tables,
    judge_rows,
    prepare_landing_csv,
    recheck_quarantine,
)
from assets.ingestion.reference import REFERENCE_DIR, REFERENCE_LOADERS
from assets.ingestion.sources import (
    CAPA,
    COMPLAINTS,
    DETERMINATIONS,
    DISTRIBUTION,
    FSCA,
    LOTS,
    PRODUCTS,
    PSUR_INPUTS,
    RISK_REGISTER,
    SERVICE,
    SUBMISSIONS,
    SourceSpec,
)
from assets.metadata import markdown_table, table_metadata
from assets.quality.row_rules import row_rule_parameters
from assets.resources import WAREHOUSE_POOL, LandingFolder, NightSettings
from assets.warehouse import ensure_warehouse

INGESTION_OWNERS = ["team:data-engineering"]
INGESTION_GROUP = "ingestion"
PRODUCTS_KEY = dg.AssetKey(["staging", "products"])
LOTS_KEY = dg.AssetKey(["staging", "lots"])


def files_metadata(outcomes: Sequence[FileOutcome]) -> dict[str, Any]:
    """What this run did with the files it looked at (new files only)."""
    rows = [
        (
            o.file_path,
            o.result.status,
            o.result.rows_read,
            o.result.rows_loaded,
            o.result.rows_quarantined,
            o.sha256[:12],
        )
        for o in outcomes
    ]
    header = ["file", "status", "read", "loaded", "quarantined", "sha256"]
    return {
        "new_files": len(outcomes),
        "rows_read": sum(o.result.rows_read for o in outcomes),
        "rows_loaded": sum(o.result.rows_loaded for o in outcomes),
        "rows_quarantined": sum(o.result.rows_quarantined for o in outcomes),
        "files": dg.MetadataValue.md(
            markdown_table(rows[:50], header) if rows else "No new file this run."
        ),
    }


def _open(warehouse: DuckDBResource) -> Any:
    Path(warehouse.database).parent.mkdir(parents=True, exist_ok=True)
    return warehouse.get_connection()


@dg.asset(
    pool=WAREHOUSE_POOL,
    key=["reference", "code_tables"],
    group_name="reference",
    owners=INGESTION_OWNERS,
    kinds={"duckdb"},
    description=(
        "IMDRF adverse-event terminology annexes A-G (`reference.imdrf_terms`), FDA product "
        "classification (`reference.fda_product_codes`) and FDA device problem codes "
        "(`reference.fda_device_problem_codes`), shipped with the project with their "
        "provenance (assets/reference/PROVENANCE.md). Reloaded only when a file's sha256 changes."
    ),
)
def reference_code_tables(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource
) -> dg.MaterializeResult:
    with _open(warehouse) as con:
        ensure_warehouse(con)
        outcomes: list[FileOutcome] = []
        for file_path, loader in sorted(REFERENCE_LOADERS.items()):
            outcomes += ingest_files(
                con,
                REFERENCE_DIR,
                [REFERENCE_DIR / file_path],
                source="reference",
                loader=loader,
                run_id=context.run.run_id,
            )
        counts = dict(
            con.execute(
                "SELECT annex, count(*) FROM reference.imdrf_terms GROUP BY annex ORDER BY annex"
            ).fetchall()
        )
        product_codes = con.execute("SELECT count(*) FROM reference.fda_product_codes").fetchall()
        problem_codes = con.execute(
            "SELECT count(*) FROM reference.fda_device_problem_codes"
        ).fetchall()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(counts.values()) + product_codes[0][0] + problem_codes[0][0],
            "imdrf_terms_per_annex": dg.MetadataValue.json(counts),
            "fda_product_codes": product_codes[0][0],
            "fda_device_problem_codes": problem_codes[0][0],
            **files_metadata(outcomes),
        }
    )


# Files are read and typed in batches of about this many rows, and each batch is judged by the
# row rules in one GX run (GX has a fixed cost per run); each file still commits on its own.
RULE_BATCH_ROWS = 250_000


def judge_batch(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    batch: list[PreparedCsv],
    parameters: dict[str, Any],
    run_id: str,
) -> None:
    """The row rules over a batch of files; when they fail on the batch, each file is judged
    alone, and a file they still fail on waits whole in quarantine with the error as reason
    (a rule engine's failure on one file must not stop the other files of the night)."""
    try:
        judge_rows(con, spec, batch, parameters, run_id)
        return
    except Exception:
        pass
    for prepared in batch:
        try:
            judge_rows(con, spec, [prepared], parameters, run_id)
        except Exception as err:
            prepared.file_error = f"the row rules could not be applied: {type(err).__name__}: {err}"
            prepared.loaded = None


def ingest_landing_source(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    landing: LandingFolder,
    night: NightSettings,
    run_id: str,
) -> tuple[list[FileOutcome], int]:
    """New files of one landing source, judged by its row rules as of the night, then the
    quarantined rows of earlier nights that may pass now. Returns (outcomes, rows recovered)."""
    ensure_warehouse(con)
    ensure_landing_tables(con, spec)
    parameters = row_rule_parameters(con, night.as_of_date())
    pending = pending_files(con, landing.root, landing_files(landing.root, spec.glob))
    outcomes: list[FileOutcome] = []
    start = 0
    while start < len(pending):
        batch: list[PreparedCsv] = []
        rows = 0
        while start + len(batch) < len(pending) and (not batch or rows < RULE_BATCH_ROWS):
            item = pending[start + len(batch)]
            prepared = prepare_landing_csv(
                item.path.read_bytes(), spec, item.file_path, item.sha256
            )
            batch.append(prepared)
            rows += prepared.rows
        judge_batch(con, spec, batch, parameters, run_id)
        by_path = {p.file_path: p for p in batch}

        def commit(con, path, file_path, sha256, run_id, by_path=by_path):
            return commit_landing_csv(con, spec, by_path[file_path], run_id)

        outcomes += ingest_pending(
            con,
            pending[start : start + len(batch)],
            source=spec.name,
            loader=commit,
            run_id=run_id,
        )
        start += len(batch)
    con.begin()
    try:
        recovered = recheck_quarantine(con, spec, parameters, run_id)
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return outcomes, recovered


def landing_source_asset(
    spec: SourceSpec,
    *,
    key: str,
    description: str,
    preview_order: str,
    deps: Sequence[dg.AssetKey] = (),
) -> dg.AssetsDefinition:
    """One ingestion asset per landing source of the data contract."""

    @dg.asset(
        pool=WAREHOUSE_POOL,
        key=["staging", key],
        group_name=INGESTION_GROUP,
        owners=INGESTION_OWNERS,
        kinds={"duckdb", "polars", "csv"},
        description=description,
        deps=[dg.AssetKey(["reference", "code_tables"]), *deps],
    )
    def _asset(
        context: dg.AssetExecutionContext,
        warehouse: DuckDBResource,
        landing: LandingFolder,
        night: NightSettings,
    ) -> dg.MaterializeResult:
        with _open(warehouse) as con:
            outcomes, recovered = ingest_landing_source(
                con, spec, landing, night, context.run.run_id
            )
            metadata = table_metadata(con, "staging", key, preview_order)
        context.log.info(
            f"{spec.name}: {len(outcomes)} new file(s), "
            f"{sum(o.result.rows_loaded for o in outcomes)} rows loaded, "
            f"{sum(o.result.rows_quarantined for o in outcomes)} quarantined"
        )
        return dg.MaterializeResult(
            metadata={**metadata, **files_metadata(outcomes), "rows_recovered": recovered}
        )

    return _asset


staging_products = landing_source_asset(
    PRODUCTS,
    key="products",
    preview_order="device_model",
    description=(
        "Device master data from `products.csv` (full snapshot: the newest file wins): model, "
        "family, FDA product code, EU and US class, implantable, launch date."
    ),
)
staging_risk_register = landing_source_asset(
    RISK_REGISTER,
    key="risk_register",
    preview_order="hazard_id",
    deps=[PRODUCTS_KEY],
    description=(
        "ISO 14971 risk-management file extract from `risk_register.csv` (full snapshot): "
        "hazards per family with IMDRF codes, severity and the expected occurrence rate per "
        "1,000 units in service per year."
    ),
)
staging_lots = landing_source_asset(
    LOTS,
    key="lots",
    preview_order="lot_number",
    deps=[PRODUCTS_KEY],
    description=(
        "Lot genealogy from `lots/*.csv`: model, manufacture date, quantity and the supplier "
        "component lots each lot was built from. A later file updates a lot."
    ),
)
staging_distribution = landing_source_asset(
    DISTRIBUTION,
    key="distribution",
    preview_order="ship_date, device_model, country",
    deps=[PRODUCTS_KEY, LOTS_KEY],
    description=(
        "Shipments from `distribution/*.csv`, the denominator of every rate: date, model, lot, "
        "country and units (negative for returns). Append-only."
    ),
)
staging_service = landing_source_asset(
    SERVICE,
    key="service",
    preview_order="service_id",
    deps=[PRODUCTS_KEY],
    description=(
        "Field-service records from `service/*.csv`: serial, service type, failure found, "
        "component (IMDRF Annex G), usage hours, related complaint."
    ),
)


staging_submissions = landing_source_asset(
    SUBMISSIONS,
    key="submissions",
    preview_order="complaint_id, authority, report_kind, submitted_date",
    description=(
        "Regulatory reports the firm submitted, from the optional `submissions/*.csv`: "
        "complaint, authority (FDA, EU:<country>, HC, ...), kind (initial, follow-up, "
        "supplemental, final, final non-reportable, summary), date, report number and who "
        "submitted it. Each authority's obligation is met only by a submission to it. Append-only."
    ),
)
staging_determinations = landing_source_asset(
    DETERMINATIONS,
    key="determinations",
    preview_order="determination_id",
    description=(
        "Decisions people recorded, from the optional `determinations/*.csv`: reportability, "
        "causality, remedial action required, serious public-health threat, FDA request, signal "
        "evaluation, FSCA decision; subject, value, date, who and why. A later determination on "
        "the same subject and kind supersedes an earlier one; both stay on record."
    ),
)
staging_fsca = landing_source_asset(
    FSCA,
    key="fsca",
    preview_order="started_on, fsca_id",
    deps=[PRODUCTS_KEY],
    description=(
        "The register of field safety corrective actions, from the optional `fsca/*.csv` "
        "(MDCG 2022-21 PSUR section on FSCAs): family, start date, kind (return, modification, "
        "exchange, destruction, retrofit, advice on use, software update, other), reason, "
        "models, lots and countries concerned, field safety notice, status and closure date, "
        "the signal behind it. A later file updates an FSCA (same `fsca_id`)."
    ),
)
staging_capa = landing_source_asset(
    CAPA,
    key="capa",
    preview_order="opened_on, capa_id",
    deps=[PRODUCTS_KEY],
    description=(
        "The CAPA register, from the optional `capa/*.csv` (ISO 13485 8.5.2-8.5.3; MDCG 2022-21 "
        "PSUR section on preventive and corrective actions): family, date opened, what raised "
        "it (complaint, trend, FSCA, audit, nonconformity, other), problem, root cause, "
        "actions, status (open, implemented, effectiveness verified, closed), closure date and "
        "effectiveness. A later file updates a CAPA (same `capa_id`)."
    ),
)
staging_psur_inputs = landing_source_asset(
    PSUR_INPUTS,
    key="psur_inputs",
    preview_order="device_family, period_end, section",
    deps=[PRODUCTS_KEY],
    description=(
        "Texts people write for the PSUR, from the optional `psur_inputs/*.csv` (MDCG "
        "2022-21): per device family and PSUR period (`period_end`, the period's last day), the "
        "literature review, registries and databases, main PMCF findings and the status of the "
        "previous PSUR's actions, with the reference it rests on, its author and date. A later "
        "file replaces the text of the same family, section and period. A section with no row "
        "shows in the report as missing, with who supplies it."
    ),
)


@dg.multi_asset(
    pool=WAREHOUSE_POOL,
    specs=[
        dg.AssetSpec(
            key=["staging", "complaint_versions"],
            group_name=INGESTION_GROUP,
            owners=INGESTION_OWNERS,
            kinds={"duckdb", "polars", "csv"},
            deps=[dg.AssetKey(["reference", "code_tables"]), PRODUCTS_KEY, LOTS_KEY],
            description=(
                "Every version of every complaint from `complaints/*.csv`, kept for the audit "
                "trail. The key is (complaint_id, updated_at); a re-sent version is not loaded "
                "twice."
            ),
        ),
        dg.AssetSpec(
            key=["staging", CURRENT_COMPLAINTS_TABLE],
            group_name=INGESTION_GROUP,
            owners=INGESTION_OWNERS,
            kinds={"duckdb"},
            deps=[dg.AssetKey(["staging", "complaint_versions"])],
            description=(
                "The current version of each complaint: the one with the latest `updated_at`. "
                "Replaced incrementally when a new version arrives."
            ),
        ),
    ],
    name="staging_complaints",
)
def staging_complaints(
    context: dg.AssetExecutionContext,
    warehouse: DuckDBResource,
    landing: LandingFolder,
    night: NightSettings,
):
    with _open(warehouse) as con:
        outcomes, recovered = ingest_landing_source(
            con, COMPLAINTS, landing, night, context.run.run_id
        )
        versions = table_metadata(con, "staging", "complaint_versions", "complaint_id, updated_at")
        current = table_metadata(con, "staging", CURRENT_COMPLAINTS_TABLE, "complaint_id")
    yield dg.MaterializeResult(
        asset_key=["staging", "complaint_versions"],
        metadata={**versions, **files_metadata(outcomes), "rows_recovered": recovered},
    )
    yield dg.MaterializeResult(asset_key=["staging", CURRENT_COMPLAINTS_TABLE], metadata=current)


FDA_TABLES = (
    "maude_master",
    "maude_devices",
    "maude_texts",
    "maude_patients",
    "maude_device_problems",
)
FDA_TABLE_DESCRIPTIONS = {
    "maude_master": "One row per FDA MAUDE / openFDA adverse-event report (master file fields).",
    "maude_devices": "Device rows of MAUDE reports: brand, model, lot, FDA product code.",
    "maude_texts": "Narratives of MAUDE reports (event description, manufacturer narrative).",
    "maude_patients": "Patient rows of MAUDE reports with their outcomes.",
    "maude_device_problems": "FDA device problem codes per MAUDE report.",
}


@dg.multi_asset(
    pool=WAREHOUSE_POOL,
    specs=[
        dg.AssetSpec(
            key=["staging", table],
            group_name=INGESTION_GROUP,
            owners=INGESTION_OWNERS,
            kinds={"duckdb"},
            deps=[dg.AssetKey(["reference", "code_tables"])],
            description=(
                f"{FDA_TABLE_DESCRIPTIONS[table]} Read from the optional `maude/` bulk files "
                "(FDA's pipe-delimited layouts, every year's column count) and `openfda/*.json` "
                "pages."
            ),
        )
        for table in FDA_TABLES
    ],
    name="staging_fda_adverse_events",
)
def staging_fda_adverse_events(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, landing: LandingFolder
):
    with _open(warehouse) as con:
        ensure_warehouse(con)
        fda.ensure_fda_tables(con)
        outcomes: list[FileOutcome] = []
        by_kind: dict[str, list[Path]] = {}
        for path in landing_files(landing.root, "maude/*"):
            kind = fda.maude_kind(path.name)
            if kind is not None:
                by_kind.setdefault(kind, []).append(path)
        for kind in ("master", "device", "text", "patient", "problem"):

            def load_maude(con, path, file_path, sha256, run_id, kind=kind):
                return fda.load_maude_file(
                    con, path, kind=kind, file_path=file_path, sha256=sha256, run_id=run_id
                )

            outcomes += ingest_files(
                con,
                landing.root,
                by_kind.get(kind, []),
                source=f"maude_{kind}",
                loader=load_maude,
                run_id=context.run.run_id,
            )

        def load_openfda(con, path, file_path, sha256, run_id):
            return fda.load_openfda_page(
                con, path, file_path=file_path, sha256=sha256, run_id=run_id
            )

        outcomes += ingest_files(
            con,
            landing.root,
            landing_files(landing.root, "openfda/*.json"),
            source="openfda",
            loader=load_openfda,
            run_id=context.run.run_id,
        )
        metadata = {
            table: table_metadata(con, "staging", table, "mdr_report_key") for table in FDA_TABLES
        }
    file_md = files_metadata(outcomes)
    for table in FDA_TABLES:
        extra = file_md if table == "maude_master" else {}
        yield dg.MaterializeResult(
            asset_key=["staging", table], metadata={**metadata[table], **extra}
        )
