"""Room on each page of ``resources`` for the next version of its rows (PostgreSQL)

Every change to a resource rewrites its row (~3 kB for a Pod).  With pages
filled to the brim, the new version never fits beside the old one: each
update then takes a page at the end of the table, which grows by a page per
change until a vacuum, and the server spends a tenth of a batch's time
extending it.  A ``fillfactor`` of 70 leaves 30 % of each page free when rows
are inserted, so an update's new version goes on its own page, and the
space of the version before it is reclaimed when that page is next pruned.

A catalog change for pages filled from now on: stored rows stay where they
are, nothing is rewritten.  A no-op on SQLite.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: Percent of each ``resources`` page filled by inserts; the rest is for updates.
FILLFACTOR = 70


def _is_postgresql() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def upgrade() -> None:
    if _is_postgresql():
        op.execute(f"ALTER TABLE resources SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if _is_postgresql():
        op.execute("ALTER TABLE resources RESET (fillfactor)")
