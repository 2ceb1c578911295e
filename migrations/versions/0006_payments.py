"""payments: batches, payments, bank result imports, receipt checks; stats cache

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 19:46:19.897732

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    # Reviewed by hand: only the payments area's tables. `uq_payments_entry_live` is the partial
    # unique index that keeps an entry to one live (pending or paid) payment on both databases.
    op.create_table('payment_batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('open', 'settled', 'cancelled', name='batchstatus', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('reissue', sa.Boolean(), nullable=False),
    sa.Column('payment_count', sa.Integer(), nullable=False),
    sa.Column('total_amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('exported_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('export_count', sa.Integer(), nullable=False),
    sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.String(length=200), nullable=True),
    sa.CheckConstraint('payment_count >= 0', name=op.f('ck_payment_batches_payment_count_non_negative')),
    sa.ForeignKeyConstraint(['county_code'], ['regions.code'], name=op.f('fk_payment_batches_county_code_regions')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_payment_batches_created_by_users')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_payment_batches_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_batches'))
    )
    with op.batch_alter_table('payment_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_batches_county_code'), ['county_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_batches_project_id'), ['project_id'], unique=False)

    op.create_table('receipt_samples',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('population', sa.Integer(), nullable=False),
    sa.Column('seed', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.CheckConstraint('size >= 1', name=op.f('ck_receipt_samples_size_positive')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_receipt_samples_created_by_users')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_receipt_samples_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_receipt_samples'))
    )
    with op.batch_alter_table('receipt_samples', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_receipt_samples_project_id'), ['project_id'], unique=False)

    op.create_table('payment_result_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('refused', sa.Boolean(), nullable=False),
    sa.Column('paid', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.Column('problems', sa.Integer(), nullable=False),
    sa.Column('report', sa.Text(), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('imported_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['payment_batches.id'], name=op.f('fk_payment_result_imports_batch_id_payment_batches')),
    sa.ForeignKeyConstraint(['imported_by'], ['users.id'], name=op.f('fk_payment_result_imports_imported_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_result_imports'))
    )
    with op.batch_alter_table('payment_result_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_result_imports_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_result_imports_sha256'), ['sha256'], unique=False)

    op.create_table('payments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('disbursement_id', sa.String(length=32), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('filing_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('head_name', sa.String(length=40), nullable=False),
    sa.Column('id_number', sa.String(length=18), nullable=False),
    sa.Column('payout_account', sa.String(length=32), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('status', sa.Enum('pending', 'paid', 'failed', 'cancelled', name='paymentstatus', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('bank_ref', sa.String(length=64), nullable=True),
    sa.Column('failure_reason', sa.String(length=255), nullable=True),
    sa.Column('result_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('result_import_id', sa.Integer(), nullable=True),
    sa.Column('reissue_of_id', sa.Integer(), nullable=True),
    sa.Column('receipt', sa.Enum('confirmed', 'denied', name='receiptanswer', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('receipt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('receipt_case_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_payments_amount_positive')),
    sa.CheckConstraint('seq >= 1 AND seq <= 999999', name=op.f('ck_payments_seq_range')),
    sa.ForeignKeyConstraint(['batch_id'], ['payment_batches.id'], name=op.f('fk_payments_batch_id_payment_batches')),
    sa.ForeignKeyConstraint(['entry_id'], ['filing_entries.id'], name=op.f('fk_payments_entry_id_filing_entries')),
    sa.ForeignKeyConstraint(['filing_id'], ['filings.id'], name=op.f('fk_payments_filing_id_filings')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_payments_household_id_households')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_payments_project_id_projects')),
    sa.ForeignKeyConstraint(['reissue_of_id'], ['payments.id'], name=op.f('fk_payments_reissue_of_id_payments')),
    sa.ForeignKeyConstraint(['result_import_id'], ['payment_result_imports.id'], name=op.f('fk_payments_result_import_id_payment_result_imports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    sa.UniqueConstraint('batch_id', 'entry_id', name='uq_payments_batch_entry'),
    sa.UniqueConstraint('batch_id', 'seq', name='uq_payments_batch_seq'),
    sa.UniqueConstraint('disbursement_id', name=op.f('uq_payments_disbursement_id'))
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index('ix_payments_entry', ['entry_id'], unique=False)
        batch_op.create_index('ix_payments_filing_status', ['filing_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_payments_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payments_project_id'), ['project_id'], unique=False)
        batch_op.create_index('ix_payments_region_status', ['region_code', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_payments_reissue_of_id'), ['reissue_of_id'], unique=False)
        batch_op.create_index('uq_payments_entry_live', ['entry_id'], unique=True, sqlite_where=sa.text("status IN ('pending', 'paid')"), postgresql_where=sa.text("status IN ('pending', 'paid')"))

    op.create_table('stats_cache',
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'region_code', 'year', name=op.f('pk_stats_cache'))
    )
    op.create_table('receipt_sample_members',
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_receipt_sample_members_payment_id_payments')),
    sa.ForeignKeyConstraint(['sample_id'], ['receipt_samples.id'], name=op.f('fk_receipt_sample_members_sample_id_receipt_samples'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('sample_id', 'payment_id', name=op.f('pk_receipt_sample_members'))
    )
    with op.batch_alter_table('receipt_sample_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_receipt_sample_members_payment_id'), ['payment_id'], unique=False)



def downgrade():
    op.drop_table('stats_cache')
    with op.batch_alter_table('receipt_sample_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_receipt_sample_members_payment_id'))

    op.drop_table('receipt_sample_members')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index('uq_payments_entry_live', sqlite_where=sa.text("status IN ('pending', 'paid')"), postgresql_where=sa.text("status IN ('pending', 'paid')"))
        batch_op.drop_index(batch_op.f('ix_payments_reissue_of_id'))
        batch_op.drop_index('ix_payments_region_status')
        batch_op.drop_index(batch_op.f('ix_payments_project_id'))
        batch_op.drop_index(batch_op.f('ix_payments_household_id'))
        batch_op.drop_index('ix_payments_filing_status')
        batch_op.drop_index('ix_payments_entry')
        batch_op.drop_index(batch_op.f('ix_payments_batch_id'))

    op.drop_table('payments')
    with op.batch_alter_table('payment_result_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_result_imports_sha256'))
        batch_op.drop_index(batch_op.f('ix_payment_result_imports_batch_id'))

    op.drop_table('payment_result_imports')
    with op.batch_alter_table('receipt_samples', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_receipt_samples_project_id'))

    op.drop_table('receipt_samples')
    with op.batch_alter_table('payment_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_batches_project_id'))
        batch_op.drop_index(batch_op.f('ix_payment_batches_county_code'))

    op.drop_table('payment_batches')
