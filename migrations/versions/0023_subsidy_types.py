"""subsidy catalogue: a prefecture's subsidy types, and the type a project names

docs/design.md "Subsidy catalogue": the city admin keeps the types (耕地地力保护补贴 per 亩, …);
a county's project may name one of its city's types (projects.subsidy_type_id, nullable: a county
with no city has no catalogue).

The new column is added in place on both databases (SQLite's ALTER TABLE … ADD COLUMN takes a
named REFERENCES clause for a nullable column), so the projects table, which filings, entries and
batches reference, is not rebuilt. Only the downgrade rebuilds it on SQLite, with the foreign keys
off as in 0022.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 15:00:00

"""
from contextlib import contextmanager

from alembic import op
import sqlalchemy as sa


revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

UNITS = "unit IN ('household', 'mu', 'head', 'person', 'item')"
FK = 'fk_projects_subsidy_type_id_subsidy_types'


def upgrade():
    op.create_table(
        'subsidy_types',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('prefecture_code', sa.String(length=12), nullable=False),
        sa.Column('code', sa.String(length=20), nullable=False),
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('unit', sa.String(length=9), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.CheckConstraint('length(prefecture_code) = 4', name=op.f('ck_subsidy_types_owned_by_a_prefecture')),
        sa.CheckConstraint(UNITS, name=op.f('ck_subsidy_types_unit')),
        sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_subsidy_types_created_by_users')),
        sa.ForeignKeyConstraint(['prefecture_code'], ['regions.code'],
                                name=op.f('fk_subsidy_types_prefecture_code_regions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_subsidy_types')),
        sa.UniqueConstraint('prefecture_code', 'code', name='uq_subsidy_types_prefecture_code'),
        sa.UniqueConstraint('prefecture_code', 'name', name='uq_subsidy_types_prefecture_name'),
    )
    if op.get_bind().dialect.name == 'sqlite':
        op.execute(f'ALTER TABLE projects ADD COLUMN subsidy_type_id INTEGER CONSTRAINT {FK} '
                   'REFERENCES subsidy_types (id)')
    else:
        op.add_column('projects', sa.Column('subsidy_type_id', sa.Integer(), nullable=True))
        op.create_foreign_key(FK, 'projects', 'subsidy_types', ['subsidy_type_id'], ['id'])
    op.create_index('ix_projects_subsidy_type_year', 'projects', ['subsidy_type_id', 'year'], unique=False)


@contextmanager
def _foreign_keys_off():
    """SQLite: the rebuild of `projects` with the foreign keys off (see 0022 for why this way)."""
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
            raise RuntimeError(f"0023: the rebuild broke foreign keys: {broken[:10]}")
    except BaseException:
        bind.exec_driver_sql("ROLLBACK")
        raise
    else:
        bind.exec_driver_sql("COMMIT")
    finally:
        bind.exec_driver_sql("PRAGMA foreign_keys=ON")
        bind.exec_driver_sql("BEGIN IMMEDIATE")


def downgrade():
    op.drop_index('ix_projects_subsidy_type_year', table_name='projects')
    with _foreign_keys_off():
        with op.batch_alter_table('projects', schema=None) as batch_op:
            if op.get_bind().dialect.name != 'sqlite':
                # (SQLite reflects the inline REFERENCES without its name; the rebuild drops it
                # with the column.)
                batch_op.drop_constraint(FK, type_='foreignkey')
            batch_op.drop_column('subsidy_type_id')
    op.drop_table('subsidy_types')
