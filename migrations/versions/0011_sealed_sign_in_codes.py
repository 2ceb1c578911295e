"""Sign-in codes readable by nobody; farmers' sessions that end on the server

`sms_messages.login_code_id`: a sign-in code's message is stored masked (验证码******); the
worker derives the code from the request it names, with a key that is not in the database, at
sending time. `mobile_login_codes.signed_out_at`: the request whose code was used is the
farmer's session, ended here by 退出.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 16:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('login_code_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_sms_messages_login_code_id_mobile_login_codes'),
                                    'mobile_login_codes', ['login_code_id'], ['id'])
    with op.batch_alter_table('mobile_login_codes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signed_out_at', sa.DateTime(timezone=True), nullable=True))
    # Codes written before this revision were stored in clear: mask them. (One still queued is
    # then given up by the worker, as it has no request to derive its code from: the farmer
    # asks again, a minute's loss at the upgrade.)
    position = "strpos" if op.get_bind().dialect.name == "postgresql" else "instr"
    op.execute(f"UPDATE sms_messages SET body = substr(body, 1, {position}(body, '验证码') + 2) || '******'"
               f" || substr(body, {position}(body, '验证码') + 9)"
               f" WHERE template = 'login_code' AND {position}(body, '验证码') > 0")


def downgrade():
    with op.batch_alter_table('mobile_login_codes', schema=None) as batch_op:
        batch_op.drop_column('signed_out_at')
    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_sms_messages_login_code_id_mobile_login_codes'), type_='foreignkey')
        batch_op.drop_column('login_code_id')
