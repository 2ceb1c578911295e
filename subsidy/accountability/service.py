"""Accountability decisions (问责): the supervisor records them, every staff tier reads those of
its region, and the published ones are read by anyone on the county's public page
(docs/design.md "Supervision with consequences").

A decision is recorded once and never changed: there is no edit, no delete and no unpublish,
so a published decision and its audit event say the same thing for as long as both exist."""
from __future__ import annotations

import re
from datetime import date, datetime

import sqlalchemy as sa

from subsidy.accountability.models import AccountabilityDecision, Measure
from subsidy.accounts.permissions import Perm, requires
from subsidy.audit import service as audit
from subsidy.cases.models import Case
from subsidy.cases.queries import is_visible as case_is_visible
from subsidy.common.pagination import Page, paginate
from subsidy.common.params import MAX_ID, YEAR_MIN, parse_int
from subsidy.common.text import clean_multiline, single_line
from subsidy.common.timeutil import local_today, utcnow
from subsidy.errors import ValidationError
from subsidy.extensions import db
from subsidy.filings.models import Filing
from subsidy.regions.models import Region
from subsidy.regions.scope import covers, ensure_visible, normalize_code, within

PERSON_NAME_MAX = 40
POST_MAX = 60
DOCUMENT_NO_MAX = 60
SUMMARY_MAX = 2000
REF_NO_MAX = 20  # cases.ref_no
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")


# --- validation ------------------------------------------------------------------------------

def _line(data: dict, key: str, label: str, limit: int, fields: dict) -> str:
    try:
        return single_line(data.get(key), label=label, limit=limit)
    except ValueError as exc:
        fields[key] = str(exc)
        return ""


def _decided_on(value, fields: dict) -> date | None:
    if value in (None, ""):
        fields["decided_on"] = "请填写决定日期"
        return None
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        text = str(value).strip()
        try:
            # Only the form everyone writes: fromisoformat alone would also take 20260301 or 2026-W10-1.
            if not ISO_DATE.match(text):
                raise ValueError(text)
            value = date.fromisoformat(text)
        except ValueError:
            fields["decided_on"] = "日期格式应为 2026-03-01"
            return None
    if value > local_today():
        fields["decided_on"] = "决定日期不能晚于今天"
    elif value.year < YEAR_MIN:
        fields["decided_on"] = f"决定日期不能早于 {YEAR_MIN} 年"
    return value


def _region(actor, value, fields: dict) -> str | None:
    """The person's unit: the actor's region or one under it, as a policy's region is chosen."""
    if value in (None, ""):
        fields["region_code"] = "请选择被问责人所在区划"
        return None
    try:
        code = normalize_code(value)
    except ValidationError:
        fields["region_code"] = "行政区划代码格式不正确"
        return None
    if db.session.get(Region, code) is None:
        fields["region_code"] = "行政区划不存在"
    elif not covers(actor.region_code, code):
        fields["region_code"] = "只能对本辖区内的人员记录问责"
    return code


def _case(actor, value, fields: dict) -> int | None:
    """The case the decision concerns, by its id or its reference number (TS-2026-000012): it must
    be one the actor may open. Anything else, another county's case included, is the same
    "not found", so the form never tells whether a case exists elsewhere."""
    if value in (None, ""):
        return None
    text = str(value).strip().upper()
    case = None
    if text.isascii() and text.isdigit():
        number = parse_int(text, 1, MAX_ID)
        case = db.session.get(Case, number) if number else None
    elif 0 < len(text) <= REF_NO_MAX:
        case = db.session.scalar(sa.select(Case).where(Case.ref_no == text))
    if case is None or not case_is_visible(actor, case):
        fields["case_id"] = "诉求不存在或不在您的管辖范围内"
        return None
    return case.id


def _filing(actor, value, fields: dict) -> int | None:
    """The filing the decision concerns: one in the actor's region (the rule of `get_visible`)."""
    if value in (None, ""):
        return None
    number = parse_int(value, 1, MAX_ID)
    filing = db.session.get(Filing, number) if number else None
    if filing is None or not covers(actor.region_code, filing.region_code):
        fields["filing_id"] = "备案不存在或不在您的管辖范围内"
        return None
    return filing.id


def _validate(actor, data: dict) -> dict:
    fields: dict[str, str] = {}
    out: dict = {"region_code": _region(actor, data.get("region_code"), fields)}
    out["person_name"] = _line(data, "person_name", "被问责人姓名", PERSON_NAME_MAX, fields)
    out["post"] = _line(data, "post", "职务", POST_MAX, fields)
    measure = data.get("measure")
    try:
        out["measure"] = measure if isinstance(measure, Measure) else Measure(measure)
    except ValueError:
        fields["measure"] = "请选择问责方式：" + "、".join(m.source for m in Measure)
    out["document_no"] = _line(data, "document_no", "文号", DOCUMENT_NO_MAX, fields)
    out["decided_on"] = _decided_on(data.get("decided_on"), fields)
    out["case_id"] = _case(actor, data.get("case_id"), fields)
    out["filing_id"] = _filing(actor, data.get("filing_id"), fields)
    summary = clean_multiline(data.get("summary"))
    if not summary:
        fields["summary"] = "请填写问责事由和处理情况"
    elif len(summary) > SUMMARY_MAX:
        fields["summary"] = f"不超过 {SUMMARY_MAX} 字"
    out["summary"] = summary
    if fields:
        raise ValidationError("问责决定信息有误", fields=fields)
    return out


# --- the supervisor records --------------------------------------------------------------------

@requires(Perm.record_accountability)
def check_may_record(actor) -> None:
    """The form's door: the declared permission is the whole check."""


@requires(Perm.record_accountability)
def record_decision(actor, *, publish: bool = False, **data) -> AccountabilityDecision:
    """Record a decision (docs/api.md POST /accountability). With `publish`, it is on the county's
    public page from this moment; it cannot be taken back, which is why the page asks first."""
    values = _validate(actor, data)
    now = utcnow()
    decision = AccountabilityDecision(**values, created_at=now, created_by=actor.id,
                                      published_at=now if publish else None)
    db.session.add(decision)
    db.session.flush()
    audit.record(actor, "accountability.record", "accountability", decision.id, region_code=decision.region_code,
                 person_name=decision.person_name, post=decision.post, measure=decision.measure,
                 document_no=decision.document_no, decided_on=decision.decided_on.isoformat(),
                 case_id=decision.case_id, filing_id=decision.filing_id, published=bool(publish))
    return decision


# --- staff read --------------------------------------------------------------------------------

@requires(Perm.view_accountability)
def list_decisions(actor, *, region_code: str | None = None, page=1, per_page=50) -> Page:
    """Decisions about people in the actor's region (narrowed to `region_code`, which must lie in
    it: 404 otherwise), newest decision first."""
    code = actor.region_code
    if region_code:
        code = normalize_code(region_code)
        ensure_visible(actor, code, "行政区划")
    stmt = (sa.select(AccountabilityDecision).where(within(AccountabilityDecision.region_code, code))
            .order_by(AccountabilityDecision.decided_on.desc(), AccountabilityDecision.id.desc()))
    return paginate(stmt, page, per_page)


@requires(Perm.view_accountability)
def references(actor, decisions) -> tuple[dict[int, Case], dict[int, Filing]]:
    """The cases and filings `decisions` concern that `actor` may open, by id. A decision about a
    village chief is seen in that village, but the complaint behind it is not (docs/design.md
    "Cases": no one in the accused region sees a complaint about it): pages link, and the API
    names, only what is returned here."""
    case_ids = {d.case_id for d in decisions if d.case_id}
    filing_ids = {d.filing_id for d in decisions if d.filing_id}
    cases = db.session.scalars(sa.select(Case).where(Case.id.in_(case_ids))).all() if case_ids else []
    filings = db.session.scalars(sa.select(Filing).where(Filing.id.in_(filing_ids))).all() if filing_ids else []
    return ({c.id: c for c in cases if case_is_visible(actor, c)},
            {f.id: f for f in filings if covers(actor.region_code, f.region_code)})


# --- public reading (no actor: anyone) -----------------------------------------------------------

def list_published(county_code: str, *, page=1, per_page=20) -> Page:
    """The county's published decisions, newest first (`/m/disclosures`). The page shows what the
    decision says about the person; never the case or filing behind it (a complaint may name
    who complained)."""
    code = normalize_code(county_code)[:6]
    stmt = (sa.select(AccountabilityDecision)
            .where(within(AccountabilityDecision.region_code, code), AccountabilityDecision.published_at.is_not(None))
            .order_by(AccountabilityDecision.decided_on.desc(), AccountabilityDecision.published_at.desc(),
                      AccountabilityDecision.id.desc()))
    return paginate(stmt, page, per_page, default=20)
