"""accountability_decisions: 问责, the supervisor's decisions, some published

docs/design.md "Supervision with consequences": the supervisor records a decision (person,
post, region, measure, document number, date, the case or filing it concerns, a summary);
a published one is on the county's public page. Never edited nor deleted.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 12:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

MEASURES = ('reminder_talk', 'criticism', 'admonishment', 'disciplinary', 'judicial')


def upgrade():
    op.create_table(
        'accountability_decisions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('region_code', sa.String(length=12), nullable=False),
        sa.Column('person_name', sa.String(length=40), nullable=False),
        sa.Column('post', sa.String(length=60), nullable=False),
        sa.Column('measure', sa.String(length=13), nullable=False),
        sa.Column('document_no', sa.String(length=60), nullable=False),
        sa.Column('decided_on', sa.Date(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('filing_id', sa.Integer(), nullable=True),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=False),
        sa.CheckConstraint("measure IN (" + ", ".join(f"'{v}'" for v in MEASURES) + ")",
                           name=op.f('ck_accountability_decisions_measure')),
        sa.ForeignKeyConstraint(['region_code'], ['regions.code'],
                                name=op.f('fk_accountability_decisions_region_code_regions')),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_accountability_decisions_case_id_cases')),
        sa.ForeignKeyConstraint(['filing_id'], ['filings.id'],
                                name=op.f('fk_accountability_decisions_filing_id_filings')),
        sa.ForeignKeyConstraint(['created_by'], ['users.id'],
                                name=op.f('fk_accountability_decisions_created_by_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_accountability_decisions')),
    )
    with op.batch_alter_table('accountability_decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_accountability_decisions_region_code'), ['region_code'], unique=False)


def downgrade():
    op.drop_table('accountability_decisions')
