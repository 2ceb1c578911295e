"""material subsidies (实物补贴): projects.item/item_unit/unit_price, material_receipts, material_pickups

docs/design.md "Material subsidies": a material project names its goods, their unit and
(optionally) their price; townships record what their store received, villages record what each
household picked up and signed for.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('item', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('item_unit', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('unit_price', sa.Numeric(precision=14, scale=2), nullable=True))
        batch_op.create_check_constraint('unit_price_non_negative', 'unit_price IS NULL OR unit_price >= 0')
    op.create_table(
        'material_receipts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('township_code', sa.String(length=9), nullable=False),
        sa.Column('quantity', sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column('received_on', sa.Date(), nullable=False),
        sa.Column('supplier', sa.String(length=60), nullable=False),
        sa.Column('document_no', sa.String(length=60), nullable=False),
        sa.Column('recorded_by', sa.Integer(), nullable=True),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('quantity > 0', name=op.f('ck_material_receipts_quantity_positive')),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_material_receipts_project_id_projects')),
        sa.ForeignKeyConstraint(['recorded_by'], ['users.id'], name=op.f('fk_material_receipts_recorded_by_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_material_receipts')),
    )
    with op.batch_alter_table('material_receipts', schema=None) as batch_op:
        batch_op.create_index('ix_material_receipts_project_township', ['project_id', 'township_code'], unique=False)
    op.create_table(
        'material_pickups',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('entry_id', sa.Integer(), nullable=False),
        sa.Column('filing_id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('township_code', sa.String(length=9), nullable=False),
        sa.Column('region_code', sa.String(length=12), nullable=False),
        sa.Column('quantity', sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column('received_on', sa.Date(), nullable=False),
        sa.Column('receiver', sa.String(length=5), nullable=False),
        sa.Column('proxy_name', sa.String(length=30), nullable=True),
        sa.Column('proxy_relation', sa.String(length=20), nullable=True),
        sa.Column('recorded_by', sa.Integer(), nullable=True),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('quantity > 0', name=op.f('ck_material_pickups_quantity_positive')),
        sa.CheckConstraint("receiver IN ('self', 'proxy')", name=op.f('ck_material_pickups_receiver')),
        sa.CheckConstraint("receiver = 'self' OR (proxy_name IS NOT NULL AND proxy_relation IS NOT NULL)",
                           name=op.f('ck_material_pickups_proxy_named')),
        sa.ForeignKeyConstraint(['entry_id'], ['filing_entries.id'],
                                name=op.f('fk_material_pickups_entry_id_filing_entries')),
        sa.ForeignKeyConstraint(['filing_id'], ['filings.id'], name=op.f('fk_material_pickups_filing_id_filings')),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_material_pickups_project_id_projects')),
        sa.ForeignKeyConstraint(['recorded_by'], ['users.id'], name=op.f('fk_material_pickups_recorded_by_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_material_pickups')),
    )
    with op.batch_alter_table('material_pickups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_material_pickups_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_material_pickups_filing_id'), ['filing_id'], unique=False)
        batch_op.create_index('ix_material_pickups_project_township', ['project_id', 'township_code'], unique=False)


def downgrade():
    op.drop_table('material_pickups')
    op.drop_table('material_receipts')
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_projects_unit_price_non_negative'), type_='check')
        batch_op.drop_column('unit_price')
        batch_op.drop_column('item_unit')
        batch_op.drop_column('item')
