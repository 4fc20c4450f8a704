import os
import re
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Connection, Engine, Integer, MetaData, inspect

from storage.db import MIGRATIONS_DIR, alembic_config, migration_options, upgrade
from storage.models import Base


def schema_differences(connection: Connection, metadata: MetaData) -> list[Any]:
    context = MigrationContext.configure(connection, opts=migration_options(connection))
    differences: list[Any] = compare_metadata(context, metadata)
    return differences


def test_migrations_produce_exactly_the_models_schema(engine: Engine) -> None:
    with engine.connect() as connection:
        assert schema_differences(connection, Base.metadata) == []


def test_the_comparison_notices_a_schema_drift(engine: Engine) -> None:
    drifted = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["answers"].append_column(Column("mood", Integer))
    with engine.connect() as connection:
        differences = schema_differences(connection, drifted)
    assert [(kind, column.name) for kind, _, _, column in differences] == [("add_column", "mood")]


def test_upgrade_stops_at_head_and_can_run_again(engine: Engine) -> None:
    upgrade(engine)
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    with engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == head


def test_downgrade_to_base_removes_every_table_and_upgrade_restores_them(engine: Engine) -> None:
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    with engine.connect() as connection:
        assert inspect(connection).get_table_names() == ["alembic_version"]
    upgrade(engine)
    with engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) == {
            "alembic_version",
            *Base.metadata.tables,
        }


def test_a_new_revision_at_head_has_nothing_to_do(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as connection:
        config = alembic_config(connection)
        # Written beside the real revisions' directory, not into the package.
        config.set_main_option(
            "version_locations", os.pathsep.join([str(MIGRATIONS_DIR / "versions"), str(tmp_path)])
        )
        command.revision(
            config, message="nothing", autogenerate=True, rev_id="9999", version_path=str(tmp_path)
        )
    (script,) = tmp_path.glob("9999_*.py")
    source = script.read_text()
    assert re.findall(r"\bop\.\w+", source) == []
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert f"down_revision: str | Sequence[str] | None = '{head}'" in source
