from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from subsidy.common.labels import Labelled, _l
from subsidy.common.model_base import enum_column
from subsidy.common.timeutil import utcnow
from subsidy.extensions import db
from subsidy.regions.models import Level, Region


class Role(Labelled):
    village_clerk = "village_clerk", _l("村级经办员")
    township_reviewer = "township_reviewer", _l("乡镇审核员")
    county_reviewer = "county_reviewer", _l("县级审核员")
    county_admin = "county_admin", _l("县级管理员")
    supervisor = "supervisor", _l("监督员")
    city_admin = "city_admin", _l("市级管理员")
    city_supervisor = "city_supervisor", _l("市级监督员")


# docs/design.md "People": the role's tier equals the region's level; a supervisor may sit at any tier.
ROLE_LEVELS = {
    Role.village_clerk: {Level.village},
    Role.township_reviewer: {Level.township},
    Role.county_reviewer: {Level.county},
    Role.county_admin: {Level.county},
    Role.supervisor: {Level.county, Level.township, Level.village},
    # The city tier (固原市): users of the prefecture, above its counties.
    Role.city_admin: {Level.prefecture},
    Role.city_supervisor: {Level.prefecture},
}

# Who may create and manage (edit, reset, deactivate) whose account. A county admin no longer
# makes another county admin: the city does, so that no county admin can mint a second admin
# account nobody above it knows of; the first admin of a county without a city, and the first
# city admin, come from the shell (`flask users create`). A city admin does not make city
# admins either. Everyone may keep their own account (name, phone, password).
MANAGES = {
    Role.city_admin: {Role.county_admin, Role.supervisor, Role.city_supervisor},
    Role.county_admin: {Role.village_clerk, Role.township_reviewer, Role.county_reviewer, Role.supervisor},
}


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(40))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    region_code: Mapped[str] = mapped_column(sa.ForeignKey("regions.code"), index=True)
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # Changing the password ends every session signed before it (see load_user).
    session_epoch: Mapped[int] = mapped_column(default=0)
    # A password the county admin set (a new user, a reset): the user must choose their own
    # before anything else (subsidy.accounts.views, the password-first guard).
    must_change_password: Mapped[bool] = mapped_column(default=False)

    region: Mapped[Region] = relationship(lazy="joined")

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_epoch}"

    @property
    def role_label(self) -> str:
        return self.role.label

    @property
    def tier(self) -> Level:
        return self.region.level

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role.value}@{self.region_code}>"


class ApiToken(db.Model):
    """Bearer tokens for /api/v1, stored as SHA-256 digests (docs/api.md "Auth")."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]

    user: Mapped[User] = relationship(lazy="joined")
