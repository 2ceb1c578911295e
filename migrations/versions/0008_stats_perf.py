"""stats: indexes for the dashboard and /stats/summary at province scale

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 09:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


# The dashboard and /stats/summary read every row of a region in a year; at province scale
# (1,000,000 households, ~8,000,000 SMS a year) these indexes let them read only index pages,
# in an order that aggregates as it goes. Two replace an index whose column they start with,
# so writes (imports, SMS enqueues) keep the same number of indexes to maintain.
def upgrade():
    # households: region range → ids joined to mobile_sign_ins, from the index alone.
    op.drop_index('ix_households_region_code', table_name='households')
    op.create_index('ix_households_region_id', 'households', ['region_code', 'id'], unique=False)
    # sms_messages: the SMS block's one pass, by village and household; status and template are
    # keys rather than INCLUDE columns so that the index covers the query on SQLite as well.
    op.drop_index('ix_sms_messages_region_code', table_name='sms_messages')
    op.create_index('ix_sms_messages_region_household', 'sms_messages',
                    ['region_code', 'household_id', 'created_at', 'status', 'template'], unique=False)
    # filing_reviews: "reached village_filed / county_approved at some time", one probe per filing.
    op.create_index('ix_filing_reviews_filing_state', 'filing_reviews', ['filing_id', 'to_state'], unique=False)


def downgrade():
    op.drop_index('ix_filing_reviews_filing_state', table_name='filing_reviews')
    op.drop_index('ix_sms_messages_region_household', table_name='sms_messages')
    op.create_index('ix_sms_messages_region_code', 'sms_messages', ['region_code'], unique=False)
    op.drop_index('ix_households_region_id', table_name='households')
    op.create_index('ix_households_region_code', 'households', ['region_code'], unique=False)
