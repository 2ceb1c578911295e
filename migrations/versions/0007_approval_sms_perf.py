"""filings and SMS outbox: indexes for county approval and the SMS worker

A county approval owes one SMS per household in one INSERT … SELECT (5,000 rows for a large
filing); each index of sms_messages is written for every row. The indexes on template,
to_phone, entry_id and case_id serve no query (grep of every query on sms_messages: the worker
claims through ix_sms_messages_due, webhooks look up provider_sid, pages and stats filter on
region_code, household_id and status), so they go; broadcast_id is only set on a broadcast's
messages, so its index becomes partial.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 09:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


_BROADCAST_WHERE = sa.text("broadcast_id IS NOT NULL")


def upgrade():
    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_sms_messages_template')
        batch_op.drop_index('ix_sms_messages_to_phone')
        batch_op.drop_index('ix_sms_messages_entry_id')
        batch_op.drop_index('ix_sms_messages_case_id')
        batch_op.drop_index('ix_sms_messages_broadcast_id')
        batch_op.create_index('ix_sms_messages_broadcast_id', ['broadcast_id'], unique=False,
                              postgresql_where=_BROADCAST_WHERE, sqlite_where=_BROADCAST_WHERE)


def downgrade():
    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_sms_messages_broadcast_id', postgresql_where=_BROADCAST_WHERE,
                            sqlite_where=_BROADCAST_WHERE)
        batch_op.create_index('ix_sms_messages_broadcast_id', ['broadcast_id'], unique=False)
        batch_op.create_index('ix_sms_messages_case_id', ['case_id'], unique=False)
        batch_op.create_index('ix_sms_messages_entry_id', ['entry_id'], unique=False)
        batch_op.create_index('ix_sms_messages_to_phone', ['to_phone'], unique=False)
        batch_op.create_index('ix_sms_messages_template', ['template'], unique=False)
