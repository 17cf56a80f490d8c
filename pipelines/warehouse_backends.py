"""Which warehouse the assets write: a DuckDB file (default) or a DuckLake on PostgreSQL.

The assets only ever call `warehouse.get_connection()` and name tables `schema.table`. The
DuckLake backend hands them a DuckDB connection on which the lake is attached and made the
default catalog (`USE lake`), so the same statements create and read tables in the lake: the
catalog (schemas, tables, snapshots) lives in PostgreSQL, the data as Parquet files under the
data path (a local folder here, object storage such as s3:// in production).

Selected by the environment (see `warehouse_resource`):

    PMS_WAREHOUSE_BACKEND   duckdb (default) | ducklake
    PMS_DUCKLAKE_CATALOG    libpq conninfo of the catalog database, e.g.
                            "dbname=pms_lake host=pg.internal user=pms"
                            (passwords belong in ~/.pgpass or PGPASSWORD, not here)
    PMS_DUCKLAKE_DATA_PATH  where the Parquet files go (folder or object-store prefix)

The DuckDB extensions `ducklake` and `postgres_scanner` are loaded from their PyPI packages
(`duckdb-extension-ducklake`, `duckdb-extension-postgres-scanner`, requirements-lake.lock), so
no machine needs DuckDB's extension server. Those packages exist for a given DuckDB release
only; the lake therefore runs in its own environment (`make test-lake`, `.venv-lake`).
"""

import importlib.util
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field

from pipelines.settings import load_config

BACKEND_ENV = "PMS_WAREHOUSE_BACKEND"
CATALOG_ENV = "PMS_DUCKLAKE_CATALOG"
DATA_PATH_ENV = "PMS_DUCKLAKE_DATA_PATH"
BACKENDS = ("duckdb", "ducklake")

# The attached lake's name. Code, not configuration: it is spliced into SQL as an identifier.
LAKE_NAME = "lake"

# (PyPI import package, extension name) in load order: DuckLake reads its catalog through the
# postgres extension.
EXTENSION_PACKAGES = (
    ("duckdb_extension_postgres_scanner", "postgres_scanner"),
    ("duckdb_extension_ducklake", "ducklake"),
)


class WarehouseConfigError(ValueError):
    """The warehouse backend settings are missing or unusable."""


class LakeExtensionsMissing(WarehouseConfigError):
    """The packaged DuckDB extensions for this DuckDB release are not installed."""


def extension_file(package: str, extension: str) -> Path:
    """The `.duckdb_extension` file a PyPI extension package ships for the running DuckDB."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise LakeExtensionsMissing(
            f"the DuckLake backend needs the Python package {package.replace('_', '-')} built "
            f"for duckdb {duckdb.__version__} (requirements-lake.lock; `make test-lake` "
            "creates .venv-lake with it)"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    path = root / "extensions" / f"v{duckdb.__version__}" / f"{extension}.duckdb_extension"
    if not path.is_file():
        built = sorted(p.name for p in (root / "extensions").glob("v*"))
        raise LakeExtensionsMissing(
            f"{package.replace('_', '-')} has no {extension} extension for duckdb "
            f"{duckdb.__version__} (it ships {', '.join(built) or 'none'}); install the "
            "matching versions from requirements-lake.lock"
        )
    return path


def lake_extensions_available() -> str | None:
    """None when the lake's extensions can be loaded here, else why not."""
    try:
        for package, extension in EXTENSION_PACKAGES:
            extension_file(package, extension)
    except LakeExtensionsMissing as missing:
        return str(missing)
    return None


def _sql_string(value: str, what: str) -> str:
    """`value` as a SQL string literal. ATTACH takes no parameters, so the conninfo and the data
    path are spliced into the statement: a single quote (or NUL) in them is refused outright
    rather than escaped, which keeps the statement obviously safe."""
    if "'" in value or "\x00" in value:
        raise WarehouseConfigError(
            f"{what} must not contain a single quote (or NUL): it is spliced into an ATTACH "
            "statement. Put values that need libpq quoting into a service file "
            "(service=NAME, pg_service.conf), PGPASSWORD or ~/.pgpass instead"
        )
    return f"'{value}'"


def attach_statement(catalog: str, data_path: str) -> str:
    """The ATTACH statement for the lake (the values are checked by `_sql_string`)."""
    if not catalog.strip():
        raise WarehouseConfigError(f"{CATALOG_ENV} (the libpq conninfo) is empty")
    if not data_path.strip():
        raise WarehouseConfigError(f"{DATA_PATH_ENV} (the lake's data path) is empty")
    location = _sql_string(f"ducklake:postgres:{catalog}", f"{CATALOG_ENV}")
    data = _sql_string(data_path, f"{DATA_PATH_ENV}")
    return f"ATTACH IF NOT EXISTS {location} AS {LAKE_NAME} (DATA_PATH {data})"


def open_lake(con: duckdb.DuckDBPyConnection, catalog: str, data_path: str) -> None:
    """Load the extensions, attach the lake and make it the connection's default catalog."""
    statement = attach_statement(catalog, data_path)
    for package, extension in EXTENSION_PACKAGES:
        path = extension_file(package, extension)
        con.execute(f"LOAD {_sql_string(str(path), 'the extension path')}")
    con.execute(statement)
    con.execute(f"USE {LAKE_NAME}")


# Column compression hints (`VARCHAR USING COMPRESSION zstd`) are DuckDB storage options that
# DuckLake refuses ("Defining a compression type for a column is not supported"); its files are
# Parquet, compressed per file. Only assets/ingestion/fda.py uses them, in CREATE TABLE IF NOT
# EXISTS statements: the lake creates those tables first without the hint, so the asset's own
# statements then find them and change nothing. Remove this once fda.py omits the hint on a lake.
_COMPRESSION_HINT = re.compile(r"\s+USING\s+COMPRESSION\s+\w+", re.IGNORECASE)
_PREPARED: set[tuple[str, str]] = set()


def lake_ddl_without_compression() -> list[str]:
    """The FDA tables whose DDL carries a compression hint, with the hint removed."""
    from assets.ingestion import fda

    statements = []
    for spec in fda._SPECS.values():
        for ddl in [fda._staging_ddl(spec), *(fda._raw_ddl(spec) if spec.raw else [])]:
            if _COMPRESSION_HINT.search(ddl):
                statements.append(_COMPRESSION_HINT.sub("", ddl))
    return statements


def prepare_lake(con: duckdb.DuckDBPyConnection) -> None:
    """Create what the assets' DDL cannot create in a lake (see _COMPRESSION_HINT)."""
    for schema in ("raw", "staging"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for ddl in lake_ddl_without_compression():
        con.execute(ddl)


# DuckDB takes 80% of the machine's memory by default; the nightly job's own frames (Polars,
# pandas for GX, scikit-learn) need room too. Sizes like "4GB"; anything else is refused.
MEMORY_LIMIT = re.compile(r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)


def memory_limit_statement(limit: str) -> str:
    """`SET memory_limit = '<limit>'` for a checked size (configuration, spliced as a literal)."""
    if not MEMORY_LIMIT.match(limit.strip()):
        raise WarehouseConfigError(
            f"[warehouse] memory_limit: expected a size such as '4GB', found {limit!r}"
        )
    return f"SET memory_limit = '{limit.strip()}'"


class WarehouseFileResource(DuckDBResource):
    """The default backend: a DuckDB file, each connection held to `memory_limit` (DuckDB spills
    larger sorts, joins and aggregates to a temporary folder beside the file instead)."""

    memory_limit: str = Field(default="", description="DuckDB memory_limit, e.g. '4GB'.")

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with super().get_connection() as con:
            # dagster-duckdb closes the connection only when the step succeeds; a failed step
            # would keep the file open in this process (and a later reader with another
            # configuration would be refused), so it is closed here whatever happens.
            try:
                if self.memory_limit:
                    con.execute(memory_limit_statement(self.memory_limit))
                yield con
            finally:
                con.close()


class DuckLakeResource(DuckDBResource):
    """`DuckDBResource` whose connections write into a DuckLake catalogued in PostgreSQL.

    `database` is the connection's own local DuckDB (in memory by default): only temporary
    tables and private scratch databases live there; every `schema.table` the assets name
    resolves in the lake. Each step opens its own connection, so steps on different processes
    or machines commit through the PostgreSQL catalog, one transaction each.
    """

    database: str = Field(default=":memory:", description="Local DuckDB for temporary objects.")
    catalog: str = Field(description="libpq conninfo of the DuckLake catalog database.")
    data_path: str = Field(description="Folder or object-store prefix for the lake's files.")

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with super().get_connection() as con:
            try:  # closed whatever happens (see WarehouseFileResource.get_connection)
                open_lake(con, self.catalog, self.data_path)
                if (self.catalog, self.data_path) not in _PREPARED:
                    prepare_lake(con)
                    _PREPARED.add((self.catalog, self.data_path))
                yield con
            finally:
                con.close()


def warehouse_resource(warehouse: Path) -> DuckDBResource:
    """The `warehouse` resource the environment asks for (PMS_WAREHOUSE_BACKEND).

    `warehouse` is the DuckDB file of the default backend; the lake ignores it (the CLI still
    keeps its run lock beside it).
    """
    backend = os.environ.get(BACKEND_ENV, "duckdb").strip().lower() or "duckdb"
    if backend == "duckdb":
        Path(warehouse).parent.mkdir(parents=True, exist_ok=True)
        limit = str(load_config().section("warehouse").get("memory_limit", ""))
        if limit:
            memory_limit_statement(limit)  # fail at start-up, not in the first step
        return WarehouseFileResource(database=str(warehouse), memory_limit=limit)
    if backend != "ducklake":
        raise WarehouseConfigError(f"{BACKEND_ENV}={backend!r}: expected one of {BACKENDS}")
    catalog = os.environ.get(CATALOG_ENV, "")
    data_path = os.environ.get(DATA_PATH_ENV, "")
    attach_statement(catalog, data_path)  # fail at start-up, not in the first step
    problem = lake_extensions_available()
    if problem:
        raise LakeExtensionsMissing(problem)
    if "://" not in data_path:
        Path(data_path).mkdir(parents=True, exist_ok=True)
    return DuckLakeResource(catalog=catalog, data_path=data_path)
