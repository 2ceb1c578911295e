"""material lists, farmer answers on pickups, material write-offs

docs/design.md "Material subsidies": the village sets where and when its households collect
(material_lists); the farmer confirms or denies each recorded pickup (material_pickups.receipt);
goods a household will never collect are written off by two people (write_offs kind material).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 11:48:46.193323

"""
from alembic import op
import sqlalchemy as sa


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'material_lists',
        sa.Column('filing_id', sa.Integer(), nullable=False),
        sa.Column('place', sa.String(length=60), nullable=False),
        sa.Column('starts_on', sa.Date(), nullable=False),
        sa.Column('ends_on', sa.Date(), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.Column('set_by', sa.Integer(), nullable=True),
        sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('ends_on >= starts_on', name=op.f('ck_material_lists_ends_after_start')),
        sa.ForeignKeyConstraint(['filing_id'], ['filings.id'], name=op.f('fk_material_lists_filing_id_filings')),
        sa.ForeignKeyConstraint(['set_by'], ['users.id'], name=op.f('fk_material_lists_set_by_users')),
        sa.PrimaryKeyConstraint('filing_id', name=op.f('pk_material_lists')),
    )
    with op.batch_alter_table('material_pickups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('receipt', sa.String(length=9), nullable=True))
        batch_op.add_column(sa.Column('receipt_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('receipt_case_id', sa.Integer(), nullable=True))
        batch_op.create_check_constraint('receiptanswer', "receipt IN ('confirmed', 'denied')")
        batch_op.create_foreign_key(batch_op.f('fk_material_pickups_receipt_case_id_cases'), 'cases',
                                    ['receipt_case_id'], ['id'])

    # A third kind of write-off: goods a household will never collect; it carries their
    # quantity, and its amount is their value (0 when the project has no price).
    with op.batch_alter_table('write_offs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('quantity', sa.Numeric(precision=14, scale=2), nullable=True))
        batch_op.drop_constraint(op.f('ck_write_offs_writeoffkind'), type_='check')
        batch_op.create_check_constraint('writeoffkind', "kind IN ('payment', 'recovery', 'material')")
        batch_op.drop_constraint(op.f('ck_write_offs_amount_positive'), type_='check')
        batch_op.create_check_constraint('amount_positive', "amount > 0 OR (kind = 'material' AND amount = 0)")
        batch_op.create_check_constraint('material_kind_has_goods',
                                         "(kind = 'material') = (quantity IS NOT NULL AND entry_id IS NOT NULL)")
        batch_op.create_check_constraint('quantity_positive', 'quantity IS NULL OR quantity > 0')
        batch_op.create_index('uq_write_offs_material_entry', ['entry_id'], unique=True,
                              sqlite_where=sa.text("kind = 'material'"), postgresql_where=sa.text("kind = 'material'"))


def downgrade():
    op.execute("DELETE FROM write_offs WHERE kind = 'material'")
    with op.batch_alter_table('write_offs', schema=None) as batch_op:
        batch_op.drop_index('uq_write_offs_material_entry', sqlite_where=sa.text("kind = 'material'"),
                            postgresql_where=sa.text("kind = 'material'"))
        batch_op.drop_constraint(op.f('ck_write_offs_quantity_positive'), type_='check')
        batch_op.drop_constraint(op.f('ck_write_offs_material_kind_has_goods'), type_='check')
        batch_op.drop_constraint(op.f('ck_write_offs_amount_positive'), type_='check')
        batch_op.create_check_constraint('amount_positive', 'amount > 0')
        batch_op.drop_constraint(op.f('ck_write_offs_writeoffkind'), type_='check')
        batch_op.create_check_constraint('writeoffkind', "kind IN ('payment', 'recovery')")
        batch_op.drop_column('quantity')

    with op.batch_alter_table('material_pickups', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_material_pickups_receipt_case_id_cases'), type_='foreignkey')
        batch_op.drop_constraint(op.f('ck_material_pickups_receiptanswer'), type_='check')
        batch_op.drop_column('receipt_case_id')
        batch_op.drop_column('receipt_at')
        batch_op.drop_column('receipt')

    op.drop_table('material_lists')
