"""The default warehouse resource: DuckDB held to the configured memory limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.settings import load_config
from pipelines.warehouse_backends import (
    WarehouseConfigError,
    WarehouseFileResource,
    memory_limit_statement,
    warehouse_resource,
)


def test_the_configured_memory_limit_holds_on_every_connection(tmp_path: Path) -> None:
    configured = load_config().section("warehouse")["memory_limit"]
    resource = warehouse_resource(tmp_path / "w.duckdb")
    assert isinstance(resource, WarehouseFileResource)
    assert resource.memory_limit == configured
    for _ in range(2):
        with resource.get_connection() as con:
            shown = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
            # DuckDB shows 3GB as 2.7 GiB (1000**3 bytes read in 1024**3 units)
            gib = float(shown.split()[0])
            assert gib == pytest.approx(float(configured.removesuffix("GB")) * 1e9 / 2**30, 0.05)


@pytest.mark.parametrize("bad", ["3GB'; DROP TABLE x; --", "lots", "", "3 GB extra"])
def test_a_memory_limit_that_is_not_a_size_is_refused(bad: str) -> None:
    with pytest.raises(WarehouseConfigError, match="expected a size such as '4GB'"):
        memory_limit_statement(bad)


def test_sizes_are_accepted_as_written() -> None:
    assert memory_limit_statement(" 512MB ") == "SET memory_limit = '512MB'"
    assert memory_limit_statement("1.5GiB") == "SET memory_limit = '1.5GiB'"
