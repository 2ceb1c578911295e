"""Where and when a village's households collect their goods (领取地点和时间), and the SMS that
tell them (docs/design.md "Material subsidies").

- The village's clerk sets the place and the days on the filing's distribution list, at any
  time before 发放完毕 (before the county's approval is best: the approval SMS then says where
  and from when; without them it says to wait for the village's notice).
- Set or changed after the approval, every household still owed goods is told the place and
  days (`material_collect`), keyed by the list's revision so a retry never sends twice.
- A reminder (`material_reminder`) goes to households still owed goods MATERIAL_REMINDER_DAYS
  before the list closes (`flask materials remind`, daily), once per household and closing day.
"""
from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from subsidy.accounts.permissions import Perm, can, exempt, requires
from subsidy.audit import service as audit
from subsidy.common.money import fmt
from subsidy.common.timeutil import local_today, utcnow
from subsidy.errors import Conflict, PermissionDenied, ValidationError
from subsidy.extensions import db
from subsidy.filings.models import Filing, FilingState
from subsidy.households.models import Household
from subsidy.materials import service
from subsidy.materials.models import DistributionState, MaterialList
from subsidy.regions.scope import get_visible

MAX_DAYS = 366  # a list open longer than a year is a typo


def day_text(day: date) -> str:
    """3月5日: how an SMS names a day (the year is the project's)."""
    return f"{day.month}月{day.day}日"


def get_list(filing_id: int) -> MaterialList | None:
    return db.session.get(MaterialList, filing_id)


def sms_fields(lst: MaterialList) -> dict:
    return {"place": lst.place, "starts": day_text(lst.starts_on), "ends": day_text(lst.ends_on)}


def _date(value, fields: dict, field: str, label: str) -> date | None:
    try:
        return value if isinstance(value, date) else date.fromisoformat(str(value or "").strip())
    except ValueError:
        fields[field] = f"请填写{label}（年-月-日）"
        return None


@requires(Perm.record_pickups)
def set_list(actor, filing_id, place, starts_on, ends_on) -> MaterialList:
    """The village's clerk sets (or changes) where and between which days its households collect."""
    filing = get_visible(actor, Filing, filing_id, "备案")
    if actor.region_code != filing.region_code:
        raise PermissionDenied("领取地点和时间由本村经办员填写")
    project = service.material(filing.project)
    if filing.state == FilingState.paid:
        raise Conflict("实物已发放完毕，不能再修改领取地点和时间", code="invalid_transition")
    fields: dict[str, str] = {}
    where = service.parse_line(place, fields, "place", "领取地点", 60)
    start = _date(starts_on, fields, "starts_on", "开始领取日期")
    end = _date(ends_on, fields, "ends_on", "截止日期")
    if start and end:
        if end < start:
            fields["ends_on"] = "截止日期不能早于开始领取日期"
        elif end < local_today():
            fields["ends_on"] = "截止日期已过，请填写今天或以后的日期"
        elif (end - start).days > MAX_DAYS:
            fields["ends_on"] = "领取时间不能超过一年"
    if fields:
        raise ValidationError("领取地点和时间有误", fields=fields)
    lst = get_list(filing.id)
    if lst is None:
        lst = MaterialList(filing_id=filing.id, place=where, starts_on=start, ends_on=end, revision=1)
        db.session.add(lst)
    elif (lst.place, lst.starts_on, lst.ends_on) == (where, start, end):
        return lst  # nothing changed: nobody is told twice
    else:
        lst.place, lst.starts_on, lst.ends_on, lst.revision = where, start, end, lst.revision + 1
    lst.set_by, lst.set_at = actor.id, utcnow()
    db.session.flush()
    sent = 0
    if filing.state == FilingState.county_approved:
        sent = _tell(filing, lst, "material_collect", f"material_collect:{filing.id}:{lst.revision}:")
    audit.record(actor, "material.list", "filing", filing.id, region_code=filing.region_code, place=where,
                 starts_on=start.isoformat(), ends_on=end.isoformat(), revision=lst.revision, sms=sent,
                 item=project.item)
    return lst


def _tell(filing: Filing, lst: MaterialList, template: str, key_prefix: str) -> int:
    """One SMS to each household of the list still owed goods (not held, not written off)."""
    from subsidy.notify.outbox import enqueue_bulk

    project = filing.project
    lines = [x for x in service.lines_of(filing)
             if x["quantity_due"] > 0 and x["state"] in (DistributionState.waiting, DistributionState.partly)]
    blocked = service.blocked_entries(x["entry_id"] for x in lines)
    lines = [x for x in lines if x["entry_id"] not in blocked]
    phones = dict(db.session.execute(sa.select(Household.id, Household.phone).where(
        Household.id.in_([x["household_id"] for x in lines]))).all()) if lines else {}
    common = {"project": project.name, "item": project.item or "", "item_unit": project.item_unit or "",
              **sms_fields(lst)}
    return enqueue_bulk(template, [
        {"key": f"{key_prefix}{x['entry_id']}", "phone": phones.get(x["household_id"]),
         "region_code": filing.region_code, "household_id": x["household_id"], "entry_id": x["entry_id"],
         "context": {**common, "name": x["head_name"], "due": fmt(x["quantity_due"] - x["quantity_received"])}}
        for x in lines])


def send_reminders(today: date | None = None, days: int | None = None) -> dict:
    """`flask materials remind`: households still owed goods on a county-approved list closing
    within `days` days (MATERIAL_REMINDER_DAYS) are reminded, once per household and closing
    day (the key), so the job may run as often as one likes."""
    from flask import current_app

    today = today or local_today()
    days = current_app.config["MATERIAL_REMINDER_DAYS"] if days is None else days
    due_lists = db.session.execute(
        sa.select(Filing, MaterialList).join(MaterialList, MaterialList.filing_id == Filing.id)
        .where(Filing.state == FilingState.county_approved, MaterialList.ends_on >= today,
               MaterialList.ends_on <= today + timedelta(days=days))
        .order_by(Filing.id)).all()
    sent = 0
    for filing, lst in due_lists:
        sent += _tell(filing, lst, "material_reminder", f"material_reminder:{filing.id}:{lst.ends_on.isoformat()}:")
    return {"lists": len(due_lists), "sms": sent}


@exempt("a reader of what the filing page already shows to whoever may read the filing")
def may_set(actor, filing: Filing) -> bool:
    """Whether `actor` is offered the place-and-days form of this filing."""
    return (can(actor, Perm.record_pickups) and actor.region_code == filing.region_code
            and filing.state != FilingState.paid and filing.project.category.value == "material")


@requires(Perm.view_filings)
def sign_sheet(actor, filing_id) -> dict:
    """The printable 签收表: every household of the list with its masked ID, goods due and
    received so far, a column to sign, the place and days, and the village board's QR code
    (where the household can check what was recorded in its name)."""
    from flask_babel import gettext

    from subsidy.public import qr
    from subsidy.regions.models import Region

    d = service.distribution(actor, filing_id)
    filing = d["filing"]
    url = qr.village_url(filing.region_code)
    return {**d, "village": filing.region, "township": db.session.get(Region, filing.region.parent_code),
            "where": get_list(filing.id), "board_url": url,
            "qr": qr.inline_svg(url, gettext("本村公示栏二维码"))}
