"""recoveries, repayments, write_offs: 追回 and 核销

docs/design.md "Supervision with consequences": money a household must give back, the sums it
paid back, and write-offs of a payment that failed for good or of a recovery that cannot be
collected, each approved by someone other than who proposed it (a CHECK keeps that).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 11:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

MONEY = sa.Numeric(precision=14, scale=2)


def upgrade():
    op.create_table(
        'recoveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('county_code', sa.String(length=6), nullable=False),
        sa.Column('region_code', sa.String(length=12), nullable=False),
        sa.Column('household_id', sa.Integer(), nullable=False),
        sa.Column('entry_id', sa.Integer(), nullable=True),
        sa.Column('filing_id', sa.Integer(), nullable=True),
        sa.Column('amount_due', MONEY, nullable=False),
        sa.Column('amount_recovered', MONEY, nullable=False),
        sa.Column('state', sa.String(length=11), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('source', sa.String(length=20), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('open', 'recovered', 'written_off')", name=op.f('ck_recoveries_recoverystate')),
        sa.CheckConstraint('amount_due > 0', name=op.f('ck_recoveries_amount_due_positive')),
        sa.CheckConstraint('amount_recovered >= 0 AND amount_recovered <= amount_due',
                           name=op.f('ck_recoveries_recovered_within_due')),
        sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_recoveries_household_id_households')),
        sa.ForeignKeyConstraint(['entry_id'], ['filing_entries.id'], name=op.f('fk_recoveries_entry_id_filing_entries')),
        sa.ForeignKeyConstraint(['filing_id'], ['filings.id'], name=op.f('fk_recoveries_filing_id_filings')),
        sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_recoveries_created_by_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_recoveries')),
    )
    with op.batch_alter_table('recoveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recoveries_county_code'), ['county_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_recoveries_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_recoveries_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_recoveries_filing_id'), ['filing_id'], unique=False)

    op.create_table(
        'repayments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('recovery_id', sa.Integer(), nullable=False),
        sa.Column('amount', MONEY, nullable=False),
        sa.Column('paid_on', sa.Date(), nullable=False),
        sa.Column('receipt_no', sa.String(length=60), nullable=False),
        sa.Column('method', sa.String(length=14), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('recorded_by', sa.Integer(), nullable=True),
        sa.CheckConstraint("method IN ('cash', 'card_deduction', 'other')", name=op.f('ck_repayments_repaymentmethod')),
        sa.CheckConstraint('amount > 0', name=op.f('ck_repayments_amount_positive')),
        sa.ForeignKeyConstraint(['recovery_id'], ['recoveries.id'], name=op.f('fk_repayments_recovery_id_recoveries')),
        sa.ForeignKeyConstraint(['recorded_by'], ['users.id'], name=op.f('fk_repayments_recorded_by_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_repayments')),
    )
    with op.batch_alter_table('repayments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_repayments_recovery_id'), ['recovery_id'], unique=False)

    op.create_table(
        'write_offs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('payment_id', sa.Integer(), nullable=True),
        sa.Column('recovery_id', sa.Integer(), nullable=True),
        sa.Column('entry_id', sa.Integer(), nullable=True),
        sa.Column('county_code', sa.String(length=6), nullable=False),
        sa.Column('region_code', sa.String(length=12), nullable=False),
        sa.Column('amount', MONEY, nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('state', sa.String(length=8), nullable=False),
        sa.Column('proposed_by', sa.Integer(), nullable=False),
        sa.Column('proposed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('approved_by', sa.Integer(), nullable=True),
        sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('payment', 'recovery')", name=op.f('ck_write_offs_writeoffkind')),
        sa.CheckConstraint("state IN ('proposed', 'approved')", name=op.f('ck_write_offs_writeoffstate')),
        sa.CheckConstraint("(kind = 'payment') = (payment_id IS NOT NULL)",
                           name=op.f('ck_write_offs_payment_kind_has_payment')),
        sa.CheckConstraint("(kind = 'recovery') = (recovery_id IS NOT NULL)",
                           name=op.f('ck_write_offs_recovery_kind_has_recovery')),
        sa.CheckConstraint('approved_by IS NULL OR approved_by <> proposed_by', name=op.f('ck_write_offs_two_people')),
        sa.CheckConstraint("(state = 'approved') = (approved_by IS NOT NULL)",
                           name=op.f('ck_write_offs_approved_has_approver')),
        sa.CheckConstraint('amount > 0', name=op.f('ck_write_offs_amount_positive')),
        sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_write_offs_payment_id_payments')),
        sa.ForeignKeyConstraint(['recovery_id'], ['recoveries.id'], name=op.f('fk_write_offs_recovery_id_recoveries')),
        sa.ForeignKeyConstraint(['entry_id'], ['filing_entries.id'], name=op.f('fk_write_offs_entry_id_filing_entries')),
        sa.ForeignKeyConstraint(['proposed_by'], ['users.id'], name=op.f('fk_write_offs_proposed_by_users')),
        sa.ForeignKeyConstraint(['approved_by'], ['users.id'], name=op.f('fk_write_offs_approved_by_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_write_offs')),
        sa.UniqueConstraint('payment_id', name=op.f('uq_write_offs_payment_id')),
        sa.UniqueConstraint('recovery_id', name=op.f('uq_write_offs_recovery_id')),
    )
    with op.batch_alter_table('write_offs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_write_offs_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_write_offs_county_code'), ['county_code'], unique=False)


def downgrade():
    op.drop_table('write_offs')
    op.drop_table('repayments')
    op.drop_table('recoveries')
