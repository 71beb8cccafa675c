"""readings and their rollups without a foreign key to site; a site with readings cannot be deleted (issue 15)

The foreign keys of ``reading_bucket``, ``reading_hourly`` and ``reading_daily`` to ``site`` checked
every row inserted: one look-up and row lock of ``site`` per bucket, by a trigger, which was a fifth of
the time PostgreSQL spent ingesting a batch of pulled pages. Their two guarantees are kept otherwise:

- no row for an unknown site: the ingest path locks the batch's sites once (``FOR KEY SHARE``, as the
  foreign key's trigger did row by row) and refuses the batch before anything is written when one is
  missing (``brand_hub.collection.store.insert_rows``); the cycle keeps only pages of sites whose
  collection target (which keeps its foreign key) it holds and has locked;
- no site deleted from under its readings: a trigger on ``site`` refuses to delete a site that has
  buckets or rollups (the foreign keys' RESTRICT, checked once per deleted site).

PostgreSQL drops the constraints on the partitioned parents (the partitions' go with them); SQLite
rebuilds the three tables without the clause. Downgrade puts the foreign keys back.

Revision ID: 0021
Revises: 0018
Create Date: 2026-12-03
"""
import re

from alembic import op
import sqlalchemy as sa

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

TABLES = ('reading_bucket', 'reading_hourly', 'reading_daily')
_HAS_READINGS = " OR ".join(f"EXISTS (SELECT 1 FROM {t} WHERE site_id = OLD.id)" for t in TABLES)
_REFUSAL = "a site that has readings cannot be deleted"


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == 'postgresql':
        for table in TABLES:
            for name in _site_keys(conn, table):
                op.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        op.execute("CREATE FUNCTION site_keeps_its_readings() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                   f"IF {_HAS_READINGS} THEN RAISE EXCEPTION '{_REFUSAL} (site %)', OLD.id "
                   "USING ERRCODE = 'foreign_key_violation'; END IF; RETURN OLD; END $$")
        op.execute("CREATE TRIGGER site_keeps_its_readings BEFORE DELETE ON site FOR EACH ROW "
                   "EXECUTE FUNCTION site_keeps_its_readings()")
        return
    for table in TABLES:
        _rebuild_sqlite(conn, table, lambda sql: re.sub(r",\s*FOREIGN KEY\s*\(site_id\)\s*REFERENCES site \(id\)", "",
                                                        sql))
    op.execute(f"CREATE TRIGGER site_keeps_its_readings BEFORE DELETE ON site WHEN {_HAS_READINGS} "
               f"BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END")


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == 'postgresql':
        op.execute("DROP TRIGGER site_keeps_its_readings ON site")
        op.execute("DROP FUNCTION site_keeps_its_readings()")
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} ADD FOREIGN KEY (site_id) REFERENCES site (id)")
        return
    op.execute("DROP TRIGGER site_keeps_its_readings")
    for table in TABLES:
        _rebuild_sqlite(conn, table, lambda sql: re.sub(r"\)\s*$", ", \n\tFOREIGN KEY(site_id) REFERENCES site (id)\n)",
                                                        sql.rstrip()))


def _site_keys(conn, table: str) -> list[str]:
    """The names of ``table``'s foreign keys to ``site`` (PostgreSQL named them itself)."""
    return conn.execute(sa.text(
        "SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid = CAST(:t AS regclass) "
        "AND confrelid = CAST('site' AS regclass)"), {"t": table}).scalars().all()


def _rebuild_sqlite(conn, table: str, change) -> None:
    """SQLite alters no constraint: the table made again from its own DDL as ``change`` edits it, rows copied."""
    sql = conn.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"),
                       {"t": table}).scalar_one()
    new = change(sql)
    assert new != sql, f"{table}: the DDL did not change"
    new = re.sub(r'^CREATE TABLE "?' + table + r'"?', f"CREATE TABLE {table}_rebuilt", new)
    op.execute(new)
    op.execute(f"INSERT INTO {table}_rebuilt SELECT * FROM {table}")
    op.execute(f"DROP TABLE {table}")
    op.execute(f"ALTER TABLE {table}_rebuilt RENAME TO {table}")
