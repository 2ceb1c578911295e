"""city levels: province (64) and prefecture (6404) regions, the city roles

docs/design.md "Jurisdiction", "People": regions gain the levels above the county (a province's
code has 2 digits, a prefecture's 4), and users the roles city_admin and city_supervisor. The
level enum's longest value is now 'prefecture' (10 characters), so the three columns that hold a
level (regions.level, filing_reviews.tier, filing_entry_notes.tier) widen to VARCHAR(10).

SQLite cannot change a CHECK constraint in place: batch mode rebuilds the table (copy, drop,
rename). Every table references regions and users, and the app's connections run with
foreign_keys=ON, under which dropping a referenced table fails; so the rebuilds run with the
foreign keys off, as SQLite's own procedure for such changes says, and `PRAGMA
foreign_key_check` proves no reference was broken before they are switched back on. PostgreSQL
alters the columns and constraints in place.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 12:45:00

"""
from contextlib import contextmanager

from alembic import op
import sqlalchemy as sa


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

OLD_LEVELS = ('county', 'township', 'village')
NEW_LEVELS = ('province', 'prefecture', 'county', 'township', 'village')
OLD_ROLES = ('village_clerk', 'township_reviewer', 'county_reviewer', 'county_admin', 'supervisor')
NEW_ROLES = OLD_ROLES + ('city_admin', 'city_supervisor')
OLD_LENGTHS = "(level = 'county' AND length(code) = 6) OR (level = 'township' AND length(code) = 9)" \
              " OR (level = 'village' AND length(code) = 12)"
NEW_LENGTHS = "(level = 'province' AND length(code) = 2) OR (level = 'prefecture' AND length(code) = 4)" \
              " OR " + OLD_LENGTHS


def _in(column, values):
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


@contextmanager
def _foreign_keys_off():
    """SQLite: foreign keys off around the table rebuilds. The pragma is a no-op inside a
    transaction, and the migration runs inside one (BEGIN IMMEDIATE, subsidy.common.database),
    so that transaction is committed first (what alembic's autocommit_block would do; its
    own block cannot serve: the app's begin listener reopens a transaction inside it) and a new
    one begun after. The migrations before this one are then committed on their own, as they
    would be with one transaction per migration."""
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        yield
        return
    bind.exec_driver_sql("COMMIT")
    bind.exec_driver_sql("PRAGMA foreign_keys=OFF")
    bind.exec_driver_sql("BEGIN IMMEDIATE")
    try:
        yield
        broken = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"0022: the rebuild broke foreign keys: {broken[:10]}")
    except BaseException:
        bind.exec_driver_sql("ROLLBACK")  # nothing of a failed rebuild is kept
        raise
    else:
        bind.exec_driver_sql("COMMIT")
    finally:
        bind.exec_driver_sql("PRAGMA foreign_keys=ON")
        bind.exec_driver_sql("BEGIN IMMEDIATE")  # the transaction alembic ends


def _levels(table, column, levels, length):
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f(f'ck_{table}_level'), type_='check')
        batch_op.alter_column(column, existing_type=sa.String(length=10 if length == 8 else 8),
                              type_=sa.String(length=length), existing_nullable=False)
        batch_op.create_check_constraint('level', _in(column, levels))


def _change(levels, roles, lengths, width):
    with _foreign_keys_off():
        with op.batch_alter_table('regions', schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f('ck_regions_code_length_matches_level'), type_='check')
            batch_op.drop_constraint(batch_op.f('ck_regions_level'), type_='check')
            batch_op.alter_column('level', existing_type=sa.String(length=18 - width), type_=sa.String(length=width),
                                  existing_nullable=False)
            batch_op.create_check_constraint('level', _in('level', levels))
            batch_op.create_check_constraint('code_length_matches_level', lengths)
        _levels('filing_reviews', 'tier', levels, width)
        _levels('filing_entry_notes', 'tier', levels, width)
        with op.batch_alter_table('users', schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f('ck_users_role'), type_='check')
            batch_op.create_check_constraint('role', _in('role', roles))


def upgrade():
    _change(NEW_LEVELS, NEW_ROLES, NEW_LENGTHS, 10)


def downgrade():
    # Refused by the constraints themselves while a city user or a level above the county exists.
    _change(OLD_LEVELS, OLD_ROLES, OLD_LENGTHS, 8)
