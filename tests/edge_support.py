"""A small, realistic county for the edge tests (bad input on every route, the property-based
API test): users of every role, a project, households, a draft filing with entries, an approved
filing of a second project with a payment batch, a case, a published policy and an SMS broadcast.
Everything goes in through the services, as people would put it in."""
from __future__ import annotations

from decimal import Decimal

from subsidy.extensions import db
from tests.factories import HouseholdFactory, ProjectFactory, approved_filing, make_county, make_user

VILLAGE = "640425100201"
ROLES = ("county_admin", "county_reviewer", "township_reviewer", "village_clerk", "supervisor")


def seed(with_county: bool = True) -> dict:
    """Returns {"users": {role: User}, "ids": {path argument: an existing id}}; commits."""
    from subsidy.cases import service as cases
    from subsidy.catalogue import service as catalogue
    from subsidy.filings import entries
    from subsidy.filings import service as filings
    from subsidy.notify import broadcast
    from subsidy.payments import service as payments
    from subsidy.policies import service as policies

    if with_county:
        make_county()
    users = {role: make_user(role) for role in ROLES}
    households = [HouseholdFactory(region_code=VILLAGE) for _ in range(3)]
    HouseholdFactory(region_code="640425100202")
    project = ProjectFactory(year=2024)
    db.session.commit()

    clerk, admin, county = users["village_clerk"], users["county_admin"], users["county_reviewer"]
    filing = filings.start_filing(clerk, project.id)
    entry = entries.add_entry(clerk, filing.id, households[0].id)
    entries.add_entry(clerk, filing.id, households[1].id, Decimal("3.50"))
    db.session.commit()

    paid_project = ProjectFactory(year=2024, name="已审批项目")
    approved = approved_filing("640425100202", project=paid_project)
    batch = payments.create_batch(county, paid_project.id).batch
    db.session.commit()

    case = cases.record_case(clerk, kind="inquiry", channel="phone", region_code=VILLAGE, subject="补贴什么时候发",
                             body="想问一下补贴什么时候发放。", contact_phone="13909541234", contact_name="马大爷")
    policy = policies.create_policy(admin, title="耕地地力保护补贴", body="# 原文\n\n按面积补贴。", interpretation="",
                                    region_code="640425", category="planting")
    policies.publish_policy(admin, policy.id)
    sent = broadcast.create_broadcast(admin, "640425100201", "今年补贴已开始申报。")
    subsidy_type = catalogue.create_type(make_user("city_admin"), code="gengdi_baohu", name="耕地地力保护补贴",
                                         unit="mu")
    db.session.commit()

    from subsidy.notify.models import Message

    message = db.session.scalars(db.select(Message).limit(1)).first()
    payment = batch.payments[0] if hasattr(batch, "payments") and batch.payments else None
    ids = {"project_id": project.id, "household_id": households[0].id, "filing_id": filing.id,
           "entry_id": entry.id, "case_id": case.id, "policy_id": policy.id, "batch_id": batch.id,
           "broadcast_id": sent.id, "message_id": message.id if message else 1, "user_id": clerk.id,
           "payment_id": payment.id if payment else 1, "approved_filing_id": approved.id,
           "paid_project_id": paid_project.id, "attachment_id": 1, "import_id": 1, "sample_id": 1,
           "type_id": subsidy_type.id}
    return {"users": users, "ids": ids, "project": project, "households": households, "filing": filing}
