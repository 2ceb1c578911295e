"""users.must_change_password: a new password at first sign-in and after a reset

Set when a county admin creates a user or resets a password (the admin knows that password);
cleared when the user chooses their own. While it is set every staff page leads to 修改密码 and
the API issues no token. Existing users are not asked again.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 20:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('must_change_password', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('must_change_password')
