"""cases: duplicates merged into the earlier case (state `merged`, `merged_into_id`)

docs/design.md "Cases": the handling unit merges a duplicate into the earlier case;
merged cases count neither as received nor as completed, and need no finding. A farmer's
repeated objection to the same entry is merged at once.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 19:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

STATES = ('received', 'in_progress', 'replied', 'closed', 'rejected', 'merged')
EVENTS = ('received', 'accepted', 'transferred', 'replied', 'escalated', 'rated', 'reopened', 'rejected', 'closed',
          'deadline_changed', 'merged')


def _in(column, values):
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('merged_into_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_cases_merged_into_id_cases'), 'cases', ['merged_into_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_cases_merged_into_id'), ['merged_into_id'], unique=False)
        batch_op.drop_constraint(batch_op.f('ck_cases_casestate'), type_='check')
        batch_op.create_check_constraint('casestate', _in('state', STATES))
        batch_op.create_check_constraint('merged_has_target', "(state = 'merged') = (merged_into_id IS NOT NULL)")
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_case_events_eventkind'), type_='check')
        batch_op.create_check_constraint('eventkind', _in('kind', EVENTS))


def downgrade():
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_case_events_eventkind'), type_='check')
        batch_op.create_check_constraint('eventkind', _in('kind', EVENTS[:-1]))
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_cases_merged_has_target'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_cases_casestate'), type_='check')
        batch_op.create_check_constraint('casestate', _in('state', STATES[:-1]))
        batch_op.drop_index(batch_op.f('ix_cases_merged_into_id'))
        batch_op.drop_constraint(batch_op.f('fk_cases_merged_into_id_cases'), type_='foreignkey')
        batch_op.drop_column('merged_into_id')
