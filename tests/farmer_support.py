"""How a test reads a sign-in code: as the farmer's phone gets it. The outbox keeps only a
masked body (验证码******); the code is what the worker puts in when it sends
(subsidy.notify.sealed), so the test derives it the same way, from the request the message names."""
from __future__ import annotations

import sqlalchemy as sa

from subsidy.notify import sealed
from subsidy.notify.models import Message


def code_sent_to(db, phone: str) -> str:
    db.session.rollback()  # see what the request committed
    message = db.session.scalars(sa.select(Message).where(Message.to_phone == phone, Message.template == "login_code")
                                 .order_by(Message.id.desc())).first()
    assert message is not None, f"no sign-in code owed to {phone}"
    assert sealed.MASK in message.body and message.login_code_id is not None
    code = sealed.code_for(message.login_code_id)
    db.session.rollback()
    return code
