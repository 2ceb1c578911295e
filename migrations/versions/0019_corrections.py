"""corrections (更正/补报): the `reopen` action, filings.correction_of_round, payments.part

docs/design.md "Supervision with consequences": the county reopens an approved or paid filing;
the correction is reviewed against the list it corrects (`correction_of_round`). What a
correction adds to a paid entry is paid as a further part (only the difference): one live
payment per entry and part (the partial unique index now spans both columns).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 12:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

ACTIONS = ('publicize', 'withdraw', 'submit', 'approve', 'return', 'pay', 'reopen')
LIVE = sa.text("status IN ('pending', 'paid')")


def _in(column, values):
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade():
    with op.batch_alter_table('filing_reviews', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_filing_reviews_action'), type_='check')
        batch_op.create_check_constraint('action', _in('action', ACTIONS))
    with op.batch_alter_table('filings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('correction_of_round', sa.Integer(), nullable=True))
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('part', sa.Integer(), nullable=False, server_default='1'))
        batch_op.create_check_constraint('part_positive', 'part >= 1')
        batch_op.drop_index('uq_payments_entry_live', sqlite_where=LIVE, postgresql_where=LIVE)
        batch_op.create_index('uq_payments_entry_live', ['entry_id', 'part'], unique=True, sqlite_where=LIVE,
                              postgresql_where=LIVE)


def downgrade():
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index('uq_payments_entry_live', sqlite_where=LIVE, postgresql_where=LIVE)
        batch_op.create_index('uq_payments_entry_live', ['entry_id'], unique=True, sqlite_where=LIVE,
                              postgresql_where=LIVE)
        batch_op.drop_constraint(batch_op.f('ck_payments_part_positive'), type_='check')
        batch_op.drop_column('part')
    with op.batch_alter_table('filings', schema=None) as batch_op:
        batch_op.drop_column('correction_of_round')
    with op.batch_alter_table('filing_reviews', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_filing_reviews_action'), type_='check')
        batch_op.create_check_constraint('action', _in('action', ACTIONS[:-1]))
