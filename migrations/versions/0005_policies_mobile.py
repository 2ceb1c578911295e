"""policies and the farmers' mobile pages: policies, policy_attachments,
mobile_login_codes, mobile_sign_ins

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mobile_login_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.Enum('login', 'phone', name='codepurpose', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=True),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_mobile_login_codes_attempts_non_negative')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_mobile_login_codes_household_id_households')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mobile_login_codes'))
    )
    with op.batch_alter_table('mobile_login_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mobile_login_codes_household_id'), ['household_id'], unique=False)
        batch_op.create_index('ix_mobile_login_codes_phone_created', ['phone', 'created_at'], unique=False)

    op.create_table('mobile_sign_ins',
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('first_signed_in_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_signed_in_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sign_ins', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_mobile_sign_ins_household_id_households')),
    sa.PrimaryKeyConstraint('household_id', name=op.f('pk_mobile_sign_ins'))
    )

    op.create_table('policies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('interpretation', sa.Text(), nullable=False),
    sa.Column('category', sa.Enum('planting', 'livestock', 'machinery', 'insurance', 'social', 'housing', 'revitalization', 'other', name='policycategory', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=True),
    sa.Column('effective_to', sa.Date(), nullable=True),
    sa.Column('status', sa.Enum('draft', 'published', 'withdrawn', name='policystatus', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_by', sa.Integer(), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_by', sa.Integer(), nullable=True),
    sa.Column('withdrawn_reason', sa.Text(), nullable=True),
    sa.CheckConstraint("status <> 'withdrawn' OR withdrawn_reason IS NOT NULL", name=op.f('ck_policies_withdrawn_has_reason')),
    sa.CheckConstraint("status = 'draft' OR published_at IS NOT NULL", name=op.f('ck_policies_published_has_date')),
    sa.CheckConstraint('effective_to IS NULL OR effective_from IS NULL OR effective_to >= effective_from', name=op.f('ck_policies_effective_range')),
    sa.ForeignKeyConstraint(['county_code'], ['regions.code'], name=op.f('fk_policies_county_code_regions')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_policies_created_by_users')),
    sa.ForeignKeyConstraint(['published_by'], ['users.id'], name=op.f('fk_policies_published_by_users')),
    sa.ForeignKeyConstraint(['region_code'], ['regions.code'], name=op.f('fk_policies_region_code_regions')),
    sa.ForeignKeyConstraint(['withdrawn_by'], ['users.id'], name=op.f('fk_policies_withdrawn_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policies'))
    )
    with op.batch_alter_table('policies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policies_region_code'), ['region_code'], unique=False)
        batch_op.create_index('ix_policies_status_published', ['status', 'published_at'], unique=False)

    op.create_table('policy_attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.CheckConstraint('size > 0', name=op.f('ck_policy_attachments_size_positive')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_policy_attachments_created_by_users')),
    sa.ForeignKeyConstraint(['policy_id'], ['policies.id'], name=op.f('fk_policy_attachments_policy_id_policies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_attachments')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_policy_attachments_stored_name'))
    )
    with op.batch_alter_table('policy_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_attachments_policy_id'), ['policy_id'], unique=False)


def downgrade():
    with op.batch_alter_table('policy_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_attachments_policy_id'))
    op.drop_table('policy_attachments')
    with op.batch_alter_table('policies', schema=None) as batch_op:
        batch_op.drop_index('ix_policies_status_published')
        batch_op.drop_index(batch_op.f('ix_policies_region_code'))
    op.drop_table('policies')
    op.drop_table('mobile_sign_ins')
    with op.batch_alter_table('mobile_login_codes', schema=None) as batch_op:
        batch_op.drop_index('ix_mobile_login_codes_phone_created')
        batch_op.drop_index(batch_op.f('ix_mobile_login_codes_household_id'))
    op.drop_table('mobile_login_codes')
