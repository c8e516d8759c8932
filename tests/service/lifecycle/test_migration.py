"""Migration 0004 builds exactly the schema the models declare, and goes down and up again cleanly."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from service.storage.db import Base
from service.storage.migrate import alembic_config


def _differences(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))
    finally:
        engine.dispose()


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    assert _differences(database_url) == []


def test_0004_downgrades_and_upgrades_again(database_url: str) -> None:
    config = alembic_config(database_url)

    command.downgrade(config, "0003")
    engine = create_engine(database_url)
    tables = set(inspect(engine).get_table_names())
    ticket_columns = {c["name"] for c in inspect(engine).get_columns("tickets")}
    engine.dispose()
    command.upgrade(config, "head")

    assert "erasures" not in tables and "purged_at" not in ticket_columns
    assert _differences(database_url) == []
