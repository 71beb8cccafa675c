"""The schema is built by the migrations, and they agree with the models."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from brand_hub import migrate
from brand_hub.db import make_engine
from brand_hub.models import metadata


def test_there_is_exactly_one_migration_head():
    assert len(migrate.heads()) == 1


def test_migrated_schema_has_no_difference_from_the_models(database_url):
    engine = make_engine(database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": migrate.include_name})
        diff = compare_metadata(context, metadata)
    engine.dispose()
    assert diff == []


def test_migrations_downgrade_to_empty_and_up_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'roundtrip.sqlite'}"
    migrate.upgrade(url)
    migrate.downgrade(url, "base")
    migrate.upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == migrate.heads()[0]
    engine.dispose()
