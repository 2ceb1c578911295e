"""entry_holds: 止付, an entry kept from payment while a problem is checked

docs/design.md "Supervision with consequences": a county reviewer or a supervisor holds an
entry with a reason; at most one open hold per entry (partial unique index); released with a
reason, never deleted.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'entry_holds',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('entry_id', sa.Integer(), nullable=False),
        sa.Column('filing_id', sa.Integer(), nullable=False),
        sa.Column('region_code', sa.String(length=12), nullable=False),
        sa.Column('status', sa.String(length=8), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('held_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('held_by', sa.Integer(), nullable=True),
        sa.Column('release_reason', sa.Text(), nullable=True),
        sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('released_by', sa.Integer(), nullable=True),
        sa.Column('cancelled_payment_id', sa.Integer(), nullable=True),
        sa.CheckConstraint("status IN ('held', 'released')", name=op.f('ck_entry_holds_holdstatus')),
        sa.CheckConstraint("(status = 'released') = (released_at IS NOT NULL)",
                           name=op.f('ck_entry_holds_released_has_time')),
        sa.ForeignKeyConstraint(['entry_id'], ['filing_entries.id'], name=op.f('fk_entry_holds_entry_id_filing_entries')),
        sa.ForeignKeyConstraint(['filing_id'], ['filings.id'], name=op.f('fk_entry_holds_filing_id_filings')),
        sa.ForeignKeyConstraint(['held_by'], ['users.id'], name=op.f('fk_entry_holds_held_by_users')),
        sa.ForeignKeyConstraint(['released_by'], ['users.id'], name=op.f('fk_entry_holds_released_by_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_entry_holds')),
    )
    with op.batch_alter_table('entry_holds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_entry_holds_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_entry_holds_filing_id'), ['filing_id'], unique=False)
        batch_op.create_index('uq_entry_holds_open', ['entry_id'], unique=True,
                              sqlite_where=sa.text("status = 'held'"), postgresql_where=sa.text("status = 'held'"))


def downgrade():
    op.drop_table('entry_holds')
