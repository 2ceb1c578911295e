"""cross-county risk flags: two flag codes, the code column widened

docs/design.md "Three-level filing and review": a payout account (phone) on households listed for
the same subsidy type and year in two counties of the city is flagged. The new codes
shared_account_other_county (27 characters) and shared_phone_other_county (25) are longer than the
column (VARCHAR(19), quantity_above_land), so it widens, and its CHECK takes them.

SQLite rebuilds filing_entry_flags (batch mode); no table references it, so the foreign keys
stay on. PostgreSQL alters the column and the constraint in place.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 16:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

OLD = ('invalid_id', 'duplicate_id', 'amount_above_rate', 'quantity_above_land', 'shared_account', 'watch_list',
       'no_phone')
NEW = OLD + ('shared_account_other_county', 'shared_phone_other_county')


def _change(codes, width, old_width):
    with op.batch_alter_table('filing_entry_flags', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_filing_entry_flags_flagcode'), type_='check')
        batch_op.alter_column('code', existing_type=sa.String(length=old_width), type_=sa.String(length=width),
                              existing_nullable=False)
        batch_op.create_check_constraint('flagcode', "code IN (" + ", ".join(f"'{c}'" for c in codes) + ")")


def upgrade():
    _change(NEW, 27, 19)


def downgrade():
    # The new flags go: they are recomputed by the checks, never a record of their own.
    op.execute("DELETE FROM filing_entry_flags WHERE code IN ('shared_account_other_county', "
               "'shared_phone_other_county')")
    _change(OLD, 19, 27)
