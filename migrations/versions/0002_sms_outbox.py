"""sms outbox

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 19:27:53.522138

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    # Reviewed by hand: the outbox, broadcasts, opt-outs, inbound texts and the per-county pause switch.
    op.create_table('sms_broadcasts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('segments_each', sa.Integer(), nullable=False),
    sa.Column('messages', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_sms_broadcasts_created_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_broadcasts'))
    )
    with op.batch_alter_table('sms_broadcasts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sms_broadcasts_region_code'), ['region_code'], unique=False)

    op.create_table('sms_control',
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changed_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['changed_by'], ['users.id'], name=op.f('fk_sms_control_changed_by_users')),
    sa.ForeignKeyConstraint(['county_code'], ['regions.code'], name=op.f('fk_sms_control_county_code_regions')),
    sa.PrimaryKeyConstraint('county_code', name=op.f('pk_sms_control'))
    )
    op.create_table('sms_inbound',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_sid', sa.String(length=64), nullable=False),
    sa.Column('from_phone', sa.String(length=20), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('handled', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_sms_inbound_household_id_households')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_inbound')),
    sa.UniqueConstraint('provider_sid', name=op.f('uq_sms_inbound_provider_sid'))
    )
    with op.batch_alter_table('sms_inbound', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sms_inbound_from_phone'), ['from_phone'], unique=False)
        batch_op.create_index(batch_op.f('ix_sms_inbound_household_id'), ['household_id'], unique=False)

    op.create_table('sms_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('template', sa.String(length=40), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('segments', sa.Integer(), nullable=False),
    sa.Column('to_phone', sa.String(length=20), nullable=True),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=True),
    sa.Column('entry_id', sa.Integer(), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('broadcast_id', sa.Integer(), nullable=True),
    sa.Column('replaced_by_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'cancelled', name='messagestatus', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('provider_calls', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('provider_sid', sa.String(length=64), nullable=True),
    sa.Column('error_code', sa.String(length=20), nullable=True),
    sa.Column('error_message', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_sms_messages_attempts_non_negative')),
    sa.ForeignKeyConstraint(['broadcast_id'], ['sms_broadcasts.id'], name=op.f('fk_sms_messages_broadcast_id_sms_broadcasts')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_sms_messages_household_id_households')),
    sa.ForeignKeyConstraint(['replaced_by_id'], ['sms_messages.id'], name=op.f('fk_sms_messages_replaced_by_id_sms_messages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_messages')),
    sa.UniqueConstraint('key', name=op.f('uq_sms_messages_key')),
    sa.UniqueConstraint('provider_sid', name=op.f('uq_sms_messages_provider_sid'))
    )
    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sms_messages_broadcast_id'), ['broadcast_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sms_messages_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_sms_messages_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sms_messages_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sms_messages_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sms_messages_region_code'), ['region_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_sms_messages_template'), ['template'], unique=False)
        batch_op.create_index(batch_op.f('ix_sms_messages_to_phone'), ['to_phone'], unique=False)

    op.create_table('sms_opt_outs',
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('note', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_sms_opt_outs_created_by_users')),
    sa.PrimaryKeyConstraint('phone', name=op.f('pk_sms_opt_outs'))
    )


def downgrade():
    # Reviewed by hand: the outbox, broadcasts, opt-outs, inbound texts and the per-county pause switch.
    op.drop_table('sms_opt_outs')
    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sms_messages_to_phone'))
        batch_op.drop_index(batch_op.f('ix_sms_messages_template'))
        batch_op.drop_index(batch_op.f('ix_sms_messages_region_code'))
        batch_op.drop_index(batch_op.f('ix_sms_messages_household_id'))
        batch_op.drop_index(batch_op.f('ix_sms_messages_entry_id'))
        batch_op.drop_index('ix_sms_messages_due')
        batch_op.drop_index(batch_op.f('ix_sms_messages_case_id'))
        batch_op.drop_index(batch_op.f('ix_sms_messages_broadcast_id'))

    op.drop_table('sms_messages')
    with op.batch_alter_table('sms_inbound', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sms_inbound_household_id'))
        batch_op.drop_index(batch_op.f('ix_sms_inbound_from_phone'))

    op.drop_table('sms_inbound')
    op.drop_table('sms_control')
    with op.batch_alter_table('sms_broadcasts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sms_broadcasts_region_code'))

    op.drop_table('sms_broadcasts')
