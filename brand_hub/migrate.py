"""Run the Alembic migrations from code (``brandhub db upgrade``, tests, demo)."""
from __future__ import annotations

import re
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

import migrations

MIGRATIONS_DIR = Path(migrations.__file__).resolve().parent
# The monthly and DEFAULT partitions of a partitioned table (``reading_bucket_y2026m12``, ``reading_bucket_default``):
# made by migrations and jobs, not models, so comparing models with the database leaves them out.
PARTITION = re.compile(r"_(y\d{4}m\d{2}|default)$")


def include_name(name, type_, parent_names) -> bool:
    """Alembic's filter when comparing the models with a database: every table but the partitions."""
    return not (type_ == "table" and name and PARTITION.search(name))


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database at ``database_url`` to ``revision`` (default: the newest)."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def heads() -> list[str]:
    return list(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())
