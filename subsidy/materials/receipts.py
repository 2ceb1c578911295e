"""The farmer's word on each recorded pickup (docs/design.md "Material subsidies"), as for cash
(subsidy.payments.receipts): a clerk who records a pickup in a farmer's name — or a proxy who
kept the goods — is revealed only by the farmer.

On "my subsidies" (/m/me) each pickup recorded for the signed-in household offers 我已领取 /
没有领到, called with that household's id (never one from a URL). 没有领到 opens a complaint
routed to the COUNTY, never to the village that recorded the pickup, naming the pickup's day,
quantity and who signed for it.
"""
from __future__ import annotations

import sqlalchemy as sa

from subsidy.audit import service as audit
from subsidy.common.money import fmt
from subsidy.common.timeutil import utcnow
from subsidy.errors import Conflict, NotFound
from subsidy.extensions import db
from subsidy.filings.models import Entry
from subsidy.households.models import Household
from subsidy.materials.models import MaterialPickup, Receiver
from subsidy.payments.models import ReceiptAnswer
from subsidy.projects.models import Project


def _own_pickup(household_id: int, pickup_id) -> MaterialPickup:
    try:
        pickup = db.session.get(MaterialPickup, int(pickup_id))
    except (TypeError, ValueError):
        pickup = None
    entry = db.session.get(Entry, pickup.entry_id) if pickup is not None else None
    # Another household's pickup is "not found": a farmer cannot probe who collected what.
    if entry is None or entry.household_id != int(household_id):
        raise NotFound("没有找到这次领取记录")
    return pickup


def confirm_pickup(household_id: int, pickup_id, *, by=None) -> MaterialPickup:
    """我已领取. Idempotent; refused after 没有领到 (that complaint is being handled)."""
    pickup = _own_pickup(household_id, pickup_id)
    if pickup.receipt == ReceiptAnswer.denied:
        raise Conflict("您已反映没有领到，县里正在核查，处理结果会答复您")
    if pickup.receipt != ReceiptAnswer.confirmed:
        pickup.receipt, pickup.receipt_at = ReceiptAnswer.confirmed, utcnow()
        db.session.flush()
        audit.record(by, "material.receipt_confirmed", "filing", pickup.filing_id, region_code=pickup.region_code,
                     household_id=int(household_id), pickup_id=pickup.id)
    return pickup


def pickup_to_deny(household_id: int, pickup_id) -> MaterialPickup:
    """The pickup a 没有领到 would be about, checked as `deny_pickup` checks it and changing
    nothing: the farmer confirms on a page of its own before the complaint is filed."""
    pickup = _own_pickup(household_id, pickup_id)
    if pickup.receipt == ReceiptAnswer.denied:
        raise Conflict("您已经反映过没有领到，县里正在核查")
    return pickup


def deny_pickup(household_id: int, pickup_id, *, phone: str | None = None, note: str = "", by=None):
    """没有领到: a complaint to the county, linked to the entry. Returns (pickup, case).
    Allowed after 我已领取 too: a farmer who pressed the wrong button must still be heard."""
    from subsidy.cases.service import open_receipt_complaint

    pickup = pickup_to_deny(household_id, pickup_id)
    household = db.session.get(Household, int(household_id))
    project = db.session.get(Project, pickup.project_id)
    goods = f"{project.item or ''}{fmt(pickup.quantity)}{project.item_unit or ''}"
    who = (f"代领人{pickup.proxy_name}（{pickup.proxy_relation}）" if pickup.receiver == Receiver.proxy
           else "户主本人")
    body = (f"农户{household.head_name}反映没有领到{project.year}年{project.name}{goods}（村里登记于"
            f"{pickup.received_on.isoformat()}由{who}领取签收，领取记录号 {pickup.id}）。")
    note = (note or "").strip()[:500]
    if note:
        body += f"农户说明：{note}"
    case = open_receipt_complaint(region_code=pickup.region_code, subject=f"实物未领到：{project.name} {goods}",
                                  body=body, phone=phone or household.phone, household_id=household.id,
                                  entry_id=pickup.entry_id, by=by, detail={"pickup_id": pickup.id})
    pickup.receipt, pickup.receipt_at, pickup.receipt_case_id = ReceiptAnswer.denied, utcnow(), case.id
    db.session.flush()
    audit.record(by, "material.receipt_denied", "filing", pickup.filing_id, region_code=pickup.region_code,
                 household_id=household.id, pickup_id=pickup.id, case_id=case.id)
    return pickup, case


def pickups_of(entry_ids) -> dict[int, list[MaterialPickup]]:
    """{entry id: its pickups, oldest first} for the farmer's page."""
    ids = list(entry_ids)
    out: dict[int, list[MaterialPickup]] = {}
    if not ids:
        return out
    for p in db.session.scalars(sa.select(MaterialPickup).where(MaterialPickup.entry_id.in_(ids))
                                .order_by(MaterialPickup.id)):
        out.setdefault(p.entry_id, []).append(p)
    return out
