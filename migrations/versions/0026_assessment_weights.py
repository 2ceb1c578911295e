"""assessment weights: the figures a city scores its counties on, and their weights per year

docs/design.md "Assessment" (考核): a city admin sets, per year, the weight (0–100, 0 = not
scored) of each figure; a year without rows takes the latest earlier year's, else the defaults.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-05 17:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

FIGURES = ('completion_rate', 'on_time_rate', 'notification_rate', 'mobile_rate', 'filing_timely_rate')


def upgrade():
    op.create_table(
        'assessment_weights',
        sa.Column('prefecture_code', sa.String(length=12), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('figure', sa.String(length=18), nullable=False),
        sa.Column('weight', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.Integer(), nullable=True),
        sa.CheckConstraint("figure IN (" + ", ".join(f"'{v}'" for v in FIGURES) + ")",
                           name=op.f('ck_assessment_weights_figure')),
        sa.CheckConstraint('weight >= 0 AND weight <= 100', name=op.f('ck_assessment_weights_weight_range')),
        sa.CheckConstraint('year >= 2000 AND year <= 2100', name=op.f('ck_assessment_weights_year_range')),
        sa.CheckConstraint('length(prefecture_code) = 4', name=op.f('ck_assessment_weights_of_a_prefecture')),
        sa.ForeignKeyConstraint(['prefecture_code'], ['regions.code'],
                                name=op.f('fk_assessment_weights_prefecture_code_regions')),
        sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_assessment_weights_updated_by_users')),
        sa.PrimaryKeyConstraint('prefecture_code', 'year', 'figure', name=op.f('pk_assessment_weights')),
    )


def downgrade():
    op.drop_table('assessment_weights')
