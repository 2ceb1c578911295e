"""cases: inquiries, complaints and objections

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 20:16:56.767552

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    # Reviewed by hand: only the cases area's tables (cases, their timeline, reference-number
    # counters, per-county time limits, the working-day calendar overrides).
    op.create_table('case_counters',
    sa.Column('kind', sa.Enum('inquiry', 'complaint', 'objection', name='casekind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'year', name=op.f('pk_case_counters'))
    )
    op.create_table('case_settings',
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('inquiry_days', sa.Integer(), nullable=False),
    sa.Column('complaint_days', sa.Integer(), nullable=False),
    sa.Column('objection_days', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.CheckConstraint('inquiry_days BETWEEN 1 AND 60 AND complaint_days BETWEEN 1 AND 60 AND objection_days BETWEEN 1 AND 60', name=op.f('ck_case_settings_days_range')),
    sa.ForeignKeyConstraint(['county_code'], ['regions.code'], name=op.f('fk_case_settings_county_code_regions')),
    sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_case_settings_updated_by_users')),
    sa.PrimaryKeyConstraint('county_code', name=op.f('pk_case_settings'))
    )
    op.create_table('work_calendar_days',
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('is_workday', sa.Boolean(), nullable=False),
    sa.Column('note', sa.String(length=100), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['county_code'], ['regions.code'], name=op.f('fk_work_calendar_days_county_code_regions')),
    sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_work_calendar_days_updated_by_users')),
    sa.PrimaryKeyConstraint('county_code', 'day', name=op.f('pk_work_calendar_days'))
    )
    op.create_table('work_calendar_years',
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('marked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('marked_by', sa.Integer(), nullable=True),
    sa.CheckConstraint('year >= 2000 AND year <= 2100', name=op.f('ck_work_calendar_years_year_range')),
    sa.ForeignKeyConstraint(['county_code'], ['regions.code'], name=op.f('fk_work_calendar_years_county_code_regions')),
    sa.ForeignKeyConstraint(['marked_by'], ['users.id'], name=op.f('fk_work_calendar_years_marked_by_users')),
    sa.PrimaryKeyConstraint('county_code', 'year', name=op.f('pk_work_calendar_years'))
    )
    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ref_no', sa.String(length=20), nullable=False),
    sa.Column('kind', sa.Enum('inquiry', 'complaint', 'objection', name='casekind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('channel', sa.Enum('mobile', 'sms', 'phone', 'visit', name='channel', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('state', sa.Enum('received', 'in_progress', 'replied', 'closed', 'rejected', name='casestate', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=True),
    sa.Column('entry_id', sa.Integer(), nullable=True),
    sa.Column('contact_name', sa.String(length=40), nullable=False),
    sa.Column('contact_phone', sa.String(length=20), nullable=True),
    sa.Column('subject', sa.String(length=100), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('assigned_region_code', sa.String(length=12), nullable=False),
    sa.Column('escalated_to_code', sa.String(length=12), nullable=True),
    sa.Column('escalation_count', sa.Integer(), nullable=False),
    sa.Column('overdue_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('clock_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_days', sa.Integer(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('replied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reply_body', sa.Text(), nullable=True),
    sa.Column('reply_working_days', sa.Integer(), nullable=True),
    sa.Column('completed_late', sa.Boolean(), nullable=False),
    sa.Column('rating', sa.Enum('very_satisfied', 'satisfied', 'basically_satisfied', 'dissatisfied', 'very_dissatisfied', name='rating', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('rating_reason', sa.Text(), nullable=True),
    sa.Column('rated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reopen_count', sa.Integer(), nullable=False),
    sa.Column('reject_reason', sa.Text(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.CheckConstraint("kind <> 'complaint' OR substr(assigned_region_code, 1, length(region_code)) <> region_code", name=op.f('ck_cases_complaint_not_handled_by_accused')),
    sa.CheckConstraint("kind <> 'objection' OR entry_id IS NOT NULL", name=op.f('ck_cases_objection_has_entry')),
    sa.CheckConstraint("state NOT IN ('replied', 'closed') OR replied_at IS NOT NULL", name=op.f('ck_cases_completed_has_reply')),
    sa.CheckConstraint('due_days >= 1 AND due_days <= 60', name=op.f('ck_cases_due_days_range')),
    sa.CheckConstraint('escalation_count >= 0', name=op.f('ck_cases_escalation_count_non_negative')),
    sa.CheckConstraint('reopen_count >= 0', name=op.f('ck_cases_reopen_count_non_negative')),
    sa.CheckConstraint('version >= 1', name=op.f('ck_cases_version_positive')),
    sa.ForeignKeyConstraint(['assigned_region_code'], ['regions.code'], name=op.f('fk_cases_assigned_region_code_regions')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_cases_created_by_users')),
    sa.ForeignKeyConstraint(['entry_id'], ['filing_entries.id'], name=op.f('fk_cases_entry_id_filing_entries')),
    sa.ForeignKeyConstraint(['escalated_to_code'], ['regions.code'], name=op.f('fk_cases_escalated_to_code_regions')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_cases_household_id_households')),
    sa.ForeignKeyConstraint(['region_code'], ['regions.code'], name=op.f('fk_cases_region_code_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    sa.UniqueConstraint('ref_no', name=op.f('uq_cases_ref_no'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_assigned_state_due', ['assigned_region_code', 'state', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_contact_phone'), ['contact_phone'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_escalated_to_code'), ['escalated_to_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_household_id'), ['household_id'], unique=False)
        batch_op.create_index('ix_cases_region_received', ['region_code', 'received_at'], unique=False)
        batch_op.create_index('ix_cases_state_due', ['state', 'due_at'], unique=False)

    op.create_table('case_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('received', 'accepted', 'transferred', 'replied', 'escalated', 'rated', 'reopened', 'rejected', 'closed', 'deadline_changed', name='eventkind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_name', sa.String(length=80), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('from_state', sa.String(length=20), nullable=True),
    sa.Column('to_state', sa.String(length=20), nullable=True),
    sa.Column('from_region_code', sa.String(length=12), nullable=True),
    sa.Column('to_region_code', sa.String(length=12), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_case_events_actor_id_users')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_events_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_events'))
    )
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_events_case_id'), ['case_id'], unique=False)

    # ### end Alembic commands ###


def downgrade():
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_events_case_id'))

    op.drop_table('case_events')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_state_due')
        batch_op.drop_index('ix_cases_region_received')
        batch_op.drop_index(batch_op.f('ix_cases_household_id'))
        batch_op.drop_index(batch_op.f('ix_cases_escalated_to_code'))
        batch_op.drop_index(batch_op.f('ix_cases_entry_id'))
        batch_op.drop_index(batch_op.f('ix_cases_contact_phone'))
        batch_op.drop_index('ix_cases_assigned_state_due')

    op.drop_table('cases')
    op.drop_table('work_calendar_years')
    op.drop_table('work_calendar_days')
    op.drop_table('case_settings')
    op.drop_table('case_counters')
    # ### end Alembic commands ###
