"""The farmer's side of the cases area: ask, complain, object to a publicized entry, read replies, rate them.

Who the farmer is comes from the farmer session only (the household signed in, or the mobile
number confirmed by code); the cases service answers a case that is not theirs as not found.
What the pages show is a plain view (`CaseView`), so templates never walk the case model."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from subsidy.cases import service as cases
from subsidy.cases.models import OPEN_STATES, Case, CaseKind, CaseState, Rating
from subsidy.errors import ValidationError

RATINGS: list[tuple[str, str]] = Rating.choices()
FARMER_KINDS = (CaseKind.inquiry, CaseKind.complaint)


@dataclass
class Reply:
    at: datetime
    body: str
    by: str


@dataclass
class CaseView:
    id: int
    ref_no: str
    kind_label: str
    subject: str
    body: str
    state_label: str
    received_at: datetime
    due_at: datetime | None
    due_provisional: bool = False
    replies: list[Reply] = field(default_factory=list)
    can_rate: bool = False
    rating_label: str = ""
    finding: str = ""  # the finding in plain words (Finding.plain), once replied


def my_cases(household_id: int | None, phone: str | None) -> list[CaseView]:
    """The household's cases (and those sent from its confirmed number), newest first."""
    rows, replies = cases.cases_for_farmer(household_id, phone)
    out = []
    for (case_id, ref_no, kind, subject, body, state, received_at, due_at, due_provisional, replied_at, reply_body,
         rating, unit, finding) in rows:
        said = [Reply(at, note, unit) for at, note in replies.get(case_id, ())]
        said = said or ([Reply(replied_at, reply_body, unit)] if reply_body else [])
        is_open = state in OPEN_STATES
        out.append(CaseView(case_id, ref_no, kind.label, subject, body, state.label, received_at,
                            due_at if is_open else None, is_open and bool(due_provisional), said,
                            state is CaseState.replied,
                            rating.label if rating and state is CaseState.closed else "",
                            str(finding.plain) if finding and state not in OPEN_STATES else ""))
    return out


def file_case(*, kind: str, household_id: int | None, phone: str, village_code: str | None, subject: str,
              body: str, contact_name: str = "", by=None) -> Case:
    """An inquiry or a complaint from the mobile page."""
    if kind not in {k.value for k in FARMER_KINDS}:
        raise ValidationError("请选择咨询或投诉", fields={"kind": "请选择咨询或投诉"})
    if not village_code:
        raise ValidationError("请选择所在村", fields={"region_code": "请选择所在村"})
    return cases.submit_case(kind=kind, region_code=village_code, household_id=household_id, contact_phone=phone,
                             contact_name=contact_name, subject=subject, body=body, by=by)


def file_objection(*, household_id: int | None, phone: str, village_code: str, entry_id: int, body: str,
                   contact_name: str = "", subject: str = "对公示名单的异议", by=None) -> Case:
    """异议 on one line of a list being publicized on the village board."""
    return cases.submit_case(kind=CaseKind.objection.value, region_code=village_code, entry_id=entry_id,
                             household_id=household_id, contact_phone=phone, contact_name=contact_name,
                             subject=subject[:100], body=body, by=by)


def rate(case_id: int, *, household_id: int | None, phone: str | None, rating: str | None,
         comment: str | None, by=None) -> Case:
    return cases.rate_case(case_id, rating, comment, household_id=household_id, phone=phone, by=by)
