"""What the farmers' mobile pages keep: sign-in codes and first sign-ins."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from subsidy.common.model_base import enum_column
from subsidy.common.timeutil import utcnow
from subsidy.extensions import db


class CodePurpose(enum.Enum):
    login = "login"    # ID number + mobile: signs a household in
    phone = "phone"    # a mobile number alone: lets anyone ask or complain with a confirmed number


class LoginCode(db.Model):
    """One request for a code. A row is written for EVERY request, whether or not the ID number
    and the mobile match a household (then `household_id` is NULL and no SMS goes out), so the
    per-number limits count both alike and no answer tells the two apart. The code itself is
    stored nowhere: it is derived from the row's id with a key that is not in the database
    (`subsidy.public.signin.code_for`), only an HMAC of it is kept for checking, and the outbox
    keeps the message masked. A row whose code was used is the farmer's session: signing out
    ends it here (`signed_out_at`), so a copied cookie is worth nothing after 退出."""

    __tablename__ = "mobile_login_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[CodePurpose] = mapped_column(enum_column(CodePurpose))
    phone: Mapped[str] = mapped_column(sa.String(20))
    household_id: Mapped[int | None] = mapped_column(sa.ForeignKey("households.id"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    address: Mapped[str] = mapped_column(sa.String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None]
    signed_out_at: Mapped[datetime | None]

    __table_args__ = (
        sa.Index("ix_mobile_login_codes_phone_created", "phone", "created_at"),
        sa.CheckConstraint("attempts >= 0", name="attempts_non_negative"),
    )


class MobileSignIn(db.Model):
    """A household that has signed in on the mobile pages at least once: the numerator of
    手机端覆盖率 (mobile coverage)."""

    __tablename__ = "mobile_sign_ins"

    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id"), primary_key=True)
    first_signed_in_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_signed_in_at: Mapped[datetime] = mapped_column(default=utcnow)
    sign_ins: Mapped[int] = mapped_column(default=1)
