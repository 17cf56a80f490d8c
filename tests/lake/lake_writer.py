"""One writer process of the concurrency test: commits to a shared DuckLake from its own process.

    python -m tests.lake.lake_writer CATALOG DATA_PATH WRITER TRANSACTIONS START_FILE MODE

MODE `append`: each transaction appends ten rows tagged (WRITER, i) to probe.appends.
MODE `replace`: each transaction replaces probe.replaced with rows tagged (WRITER, i), the
unguarded pattern the `duckdb_warehouse` pool keeps apart. Prints one JSON line: the commits
that succeeded and the errors of those that did not.
"""

import contextlib
import json
import sys
import time
from pathlib import Path

import duckdb

from pipelines.warehouse_backends import DuckLakeResource


def main(argv: list[str]) -> int:
    catalog, data_path, writer, transactions, start_file, mode = argv
    resource = DuckLakeResource(catalog=catalog, data_path=data_path)
    committed, errors = 0, []
    with resource.get_connection() as con:
        deadline = time.monotonic() + 60
        while not Path(start_file).exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        for i in range(int(transactions)):
            try:
                con.begin()
                if mode == "append":
                    con.execute(
                        "INSERT INTO probe.appends SELECT ?, ?, range FROM range(10)", [writer, i]
                    )
                else:
                    con.execute(
                        "CREATE OR REPLACE TABLE probe.replaced AS "
                        "SELECT ? AS writer, ? AS txn, range AS n FROM range(10)",
                        [writer, i],
                    )
                con.commit()
                committed += 1
            except Exception as exc:  # a conflict the lake refused: report it, keep going
                with contextlib.suppress(duckdb.TransactionException):  # commit already ended it
                    con.rollback()
                errors.append(f"{type(exc).__name__}: {exc}"[:300])
    print(json.dumps({"writer": writer, "committed": committed, "errors": errors}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
