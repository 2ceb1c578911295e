"""cases.due_provisional: a deadline reckoned through a year no calendar covers (暂定)

Until now a case whose deadline reached into a year that neither `chinese_calendar` nor the
county's loaded calendar covered was refused; from December 2026 that refused every complaint.
Such a deadline is now reckoned from the statutory holidays and marked provisional, and is
recomputed when the year's calendar arrives. The partial index finds the few provisional cases
for that recomputation without a scan.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_provisional', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index('ix_cases_due_provisional', ['region_code'],
                              postgresql_where=sa.text('due_provisional'), sqlite_where=sa.text('due_provisional'))


def downgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_due_provisional')
        batch_op.drop_column('due_provisional')
