"""audit_events.keyed: the chain is hashed with a key that is not in the database from now on

Events already written keep their plain SHA-256 (`keyed` false); every new one is an HMAC with
AUDIT_KEY, and verification refuses an unkeyed event after a keyed one. The last unkeyed hash
is the first keyed event's predecessor, so rewriting the old events still breaks the chain.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 17:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('keyed', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_column('keyed')
