"""filings: three-level filing and review

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 19:36:33.526766

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    # Reviewed by hand: only the filings area's tables (filings, their entries, reviews,
    # snapshots and lines, risk flags, reviewers' notes, and the county watch list).
    op.create_table('watchlist_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('id_number', sa.String(length=18), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('category', sa.Enum('deceased', 'public_payroll', 'village_cadre', 'cadre_relative', name='watchcategory', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('source', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('imported_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['county_code'], ['regions.code'], name=op.f('fk_watchlist_entries_county_code_regions')),
    sa.ForeignKeyConstraint(['imported_by'], ['users.id'], name=op.f('fk_watchlist_entries_imported_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_watchlist_entries')),
    sa.UniqueConstraint('county_code', 'id_number', 'category', name='uq_watchlist_entries_county_id_category')
    )
    with op.batch_alter_table('watchlist_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_watchlist_entries_id_number'), ['id_number'], unique=False)

    op.create_table('filings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('state', sa.Enum('draft', 'publicizing', 'village_filed', 'township_approved', 'county_approved', 'paid', name='filingstate', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('list_changed', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('state_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('publicized_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('publicity_ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('length(region_code) = 12', name=op.f('ck_filings_filed_by_a_village')),
    sa.CheckConstraint('version >= 1', name=op.f('ck_filings_version_positive')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_filings_created_by_users')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_filings_project_id_projects')),
    sa.ForeignKeyConstraint(['region_code'], ['regions.code'], name=op.f('fk_filings_region_code_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_filings')),
    sa.UniqueConstraint('id', 'project_id', name='uq_filings_id_project'),
    sa.UniqueConstraint('project_id', 'region_code', name='uq_filings_project_village')
    )
    with op.batch_alter_table('filings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_filings_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_filings_region_code'), ['region_code'], unique=False)
        batch_op.create_index('ix_filings_state_changed', ['state', 'state_changed_at'], unique=False)

    op.create_table('filing_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('filing_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_filing_entries_amount_non_negative')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_filing_entries_quantity_positive')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_filing_entries_created_by_users')),
    sa.ForeignKeyConstraint(['filing_id', 'project_id'], ['filings.id', 'filings.project_id'], name='fk_filing_entries_filing_id_filings'),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_filing_entries_household_id_households')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_filing_entries_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_filing_entries')),
    sa.UniqueConstraint('project_id', 'household_id', name='uq_filing_entries_project_household')
    )
    with op.batch_alter_table('filing_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_filing_entries_filing_id'), ['filing_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_filing_entries_household_id'), ['household_id'], unique=False)

    op.create_table('filing_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('filing_id', sa.Integer(), nullable=False),
    sa.Column('tier', sa.Enum('county', 'township', 'village', name='level', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('action', sa.Enum('publicize', 'withdraw', 'submit', 'approve', 'return', 'pay', name='action', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_name', sa.String(length=80), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('from_state', sa.Enum('draft', 'publicizing', 'village_filed', 'township_approved', 'county_approved', 'paid', name='from_state', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('to_state', sa.Enum('draft', 'publicizing', 'village_filed', 'township_approved', 'county_approved', 'paid', name='to_state', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_filing_reviews_actor_id_users')),
    sa.ForeignKeyConstraint(['filing_id'], ['filings.id'], name=op.f('fk_filing_reviews_filing_id_filings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_filing_reviews'))
    )
    with op.batch_alter_table('filing_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_filing_reviews_filing_id'), ['filing_id'], unique=False)

    op.create_table('filing_snapshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('filing_id', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('stage', sa.Enum('publicized', 'village', 'township', 'county', 'paid', name='stage', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('entry_count', sa.Integer(), nullable=False),
    sa.Column('total_amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('taken_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['filing_id'], ['filings.id'], name=op.f('fk_filing_snapshots_filing_id_filings')),
    sa.ForeignKeyConstraint(['taken_by'], ['users.id'], name=op.f('fk_filing_snapshots_taken_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_filing_snapshots'))
    )
    with op.batch_alter_table('filing_snapshots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_filing_snapshots_filing_id'), ['filing_id'], unique=False)

    op.create_table('filing_entry_flags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('filing_id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.Enum('invalid_id', 'duplicate_id', 'amount_above_rate', 'quantity_above_land', 'shared_account', 'watch_list', 'no_phone', name='flagcode', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('explanation', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['filing_entries.id'], name=op.f('fk_filing_entry_flags_entry_id_filing_entries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['filing_id'], ['filings.id'], name=op.f('fk_filing_entry_flags_filing_id_filings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_filing_entry_flags')),
    sa.UniqueConstraint('entry_id', 'code', name='uq_filing_entry_flags_entry_code')
    )
    with op.batch_alter_table('filing_entry_flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_filing_entry_flags_filing_id'), ['filing_id'], unique=False)

    op.create_table('filing_entry_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('filing_id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('tier', sa.Enum('county', 'township', 'village', name='level', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('author_name', sa.String(length=80), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_filing_entry_notes_author_id_users')),
    sa.ForeignKeyConstraint(['entry_id'], ['filing_entries.id'], name=op.f('fk_filing_entry_notes_entry_id_filing_entries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['filing_id'], ['filings.id'], name=op.f('fk_filing_entry_notes_filing_id_filings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_filing_entry_notes'))
    )
    with op.batch_alter_table('filing_entry_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_filing_entry_notes_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_filing_entry_notes_filing_id'), ['filing_id'], unique=False)

    op.create_table('filing_snapshot_lines',
    sa.Column('snapshot_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('head_name', sa.String(length=40), nullable=False),
    sa.Column('id_number', sa.String(length=18), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('payout_account', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['snapshot_id'], ['filing_snapshots.id'], name=op.f('fk_filing_snapshot_lines_snapshot_id_filing_snapshots'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('snapshot_id', 'household_id', name=op.f('pk_filing_snapshot_lines'))
    )


def downgrade():
    op.drop_table('filing_snapshot_lines')
    with op.batch_alter_table('filing_entry_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_filing_entry_notes_filing_id'))
        batch_op.drop_index(batch_op.f('ix_filing_entry_notes_entry_id'))

    op.drop_table('filing_entry_notes')
    with op.batch_alter_table('filing_entry_flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_filing_entry_flags_filing_id'))

    op.drop_table('filing_entry_flags')
    with op.batch_alter_table('filing_snapshots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_filing_snapshots_filing_id'))

    op.drop_table('filing_snapshots')
    with op.batch_alter_table('filing_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_filing_reviews_filing_id'))

    op.drop_table('filing_reviews')
    with op.batch_alter_table('filing_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_filing_entries_household_id'))
        batch_op.drop_index(batch_op.f('ix_filing_entries_filing_id'))

    op.drop_table('filing_entries')
    with op.batch_alter_table('filings', schema=None) as batch_op:
        batch_op.drop_index('ix_filings_state_changed')
        batch_op.drop_index(batch_op.f('ix_filings_region_code'))
        batch_op.drop_index(batch_op.f('ix_filings_project_id'))

    op.drop_table('filings')
    with op.batch_alter_table('watchlist_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_watchlist_entries_id_number'))

    op.drop_table('watchlist_entries')
