"""Who acts, when it is not a staff user: the farmer on the mobile pages.

A farmer has no account. What the platform knows of them is the household signed in (or the
mobile number confirmed) by the sign-in request whose code they typed: that request is their
session. Farmers' acts are audited under it, with the address they came from, so that a
receipt "confirmed by the farmer" from the village office's address can be found."""
from __future__ import annotations

from dataclasses import dataclass

from subsidy.common.masking import mask_phone


@dataclass(frozen=True)
class Farmer:
    household_id: int | None
    phone: str | None
    session: int | None  # the sign-in request (mobile_login_codes.id) of this session
    address: str

    id = None                 # not a staff user: no user id, no role, no permission
    is_authenticated = False

    @property
    def username(self) -> str:
        """The audit log's actor label."""
        if self.household_id is not None:
            return f"farmer:{self.household_id}"
        return f"farmer-phone:{mask_phone(self.phone)}" if self.phone else "farmer"

    @property
    def name(self) -> str:
        return "农户"

    def audit_detail(self) -> dict:
        return {"farmer_session": self.session, "address": self.address}
