"""cases.finding: a complaint or objection is closed with its finding (核查结论)

Issue 17: 属实 / 部分属实 / 不属实 (`substantiated`, `partly_substantiated`,
`unsubstantiated`), required by the service when such a case is replied to; inquiries have
none. Cases replied to before this migration keep none (nobody decided one for them).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

FINDINGS = ('substantiated', 'partly_substantiated', 'unsubstantiated')


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('finding', sa.String(length=20), nullable=True))
        batch_op.create_check_constraint('finding', "finding IN (" + ", ".join(f"'{v}'" for v in FINDINGS) + ")")


def downgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_cases_finding'), type_='check')
        batch_op.drop_column('finding')
