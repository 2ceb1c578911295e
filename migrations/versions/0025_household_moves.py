"""household_moves: every 迁户, so a county a household left can still open its file

docs/design.md "Household register": a transfer moves the household row only; its entries,
payments and cases keep the village they were made in. The moves table says where a household
has been, indexed on each side, so the counties it passed through find it without parsing the
audit log. The moves made before this table existed are read back from the audit log's
`household.transfer` events (detail: source, target, reason; object_id: the household), the
only record of them; an event whose household or villages no longer exist is skipped.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05 17:30:00

"""
import json

from alembic import op
import sqlalchemy as sa


revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

REASON_LENGTH = 200


def upgrade():
    op.create_table(
        'household_moves',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('household_id', sa.Integer(), nullable=False),
        sa.Column('from_region', sa.String(length=12), nullable=False),
        sa.Column('to_region', sa.String(length=12), nullable=False),
        sa.Column('moved_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('moved_by', sa.Integer(), nullable=True),
        sa.Column('reason', sa.String(length=REASON_LENGTH), nullable=False),
        sa.CheckConstraint('from_region <> to_region', name=op.f('ck_household_moves_moves_somewhere')),
        sa.ForeignKeyConstraint(['household_id'], ['households.id'],
                                name=op.f('fk_household_moves_household_id_households')),
        sa.ForeignKeyConstraint(['from_region'], ['regions.code'], name=op.f('fk_household_moves_from_region_regions')),
        sa.ForeignKeyConstraint(['to_region'], ['regions.code'], name=op.f('fk_household_moves_to_region_regions')),
        sa.ForeignKeyConstraint(['moved_by'], ['users.id'], name=op.f('fk_household_moves_moved_by_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_household_moves')),
    )
    with op.batch_alter_table('household_moves', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_household_moves_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_household_moves_from_region'), ['from_region'], unique=False)
        batch_op.create_index(batch_op.f('ix_household_moves_to_region'), ['to_region'], unique=False)
    _backfill()


def _backfill():
    """One row per `household.transfer` event, in the log's order (a few per county and year:
    read whole). The JSON is parsed here rather than in SQL, whose JSON functions differ
    between SQLite and PostgreSQL."""
    bind = op.get_bind()
    events = sa.table('audit_events', sa.column('id', sa.Integer()), sa.column('at', sa.DateTime(timezone=True)),
                      sa.column('actor_id', sa.Integer()), sa.column('action', sa.String()),
                      sa.column('object_id', sa.String()), sa.column('detail', sa.Text()))
    rows = bind.execute(sa.select(events.c.at, events.c.actor_id, events.c.object_id, events.c.detail)
                        .where(events.c.action == 'household.transfer').order_by(events.c.id)).all()
    if not rows:
        return
    households = set(bind.execute(sa.text('SELECT id FROM households')).scalars())
    regions = set(bind.execute(sa.text("SELECT code FROM regions WHERE level = 'village'")).scalars())
    users = set(bind.execute(sa.text('SELECT id FROM users')).scalars())
    moves = []
    for at, actor_id, object_id, detail in rows:
        try:
            data = json.loads(detail or '{}')
            household_id = int(object_id)
        except (TypeError, ValueError):
            continue
        source, target = data.get('source'), data.get('target')
        if household_id not in households or source not in regions or target not in regions or source == target:
            continue
        moves.append({'household_id': household_id, 'from_region': source, 'to_region': target, 'moved_at': at,
                      'moved_by': actor_id if actor_id in users else None,
                      'reason': str(data.get('reason') or '')[:REASON_LENGTH]})
    if moves:
        op.bulk_insert(sa.table('household_moves', sa.column('household_id', sa.Integer()),
                                sa.column('from_region', sa.String()), sa.column('to_region', sa.String()),
                                sa.column('moved_at', sa.DateTime(timezone=True)),
                                sa.column('moved_by', sa.Integer()), sa.column('reason', sa.String())), moves)


def downgrade():
    # The audit events the rows were read from (and those written since) stay: nothing is lost.
    with op.batch_alter_table('household_moves', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_household_moves_to_region'))
        batch_op.drop_index(batch_op.f('ix_household_moves_from_region'))
        batch_op.drop_index(batch_op.f('ix_household_moves_household_id'))
    op.drop_table('household_moves')
