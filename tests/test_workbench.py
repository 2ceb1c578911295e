"""The 工作台 of each role (subsidy.workbench) and a household's page (一户一档): what waits for whom,
counted set-based in the actor's region, with links that work."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
import time_machine

from subsidy.cases.models import Case
from subsidy.cases.service import transfer_case
from subsidy.common.timeutil import utcnow
from subsidy.extensions import db
from subsidy.filings.models import FilingState
from subsidy.households.service import household_file
from subsidy.notify.models import Message, MessageStatus
from subsidy.payments import results
from subsidy.payments import service as payments
from subsidy.workbench.service import latest_returns, waiting_work
from tests.cases_support import record
from tests.factories import make_user
from tests.filings_support import T0, act, make_world, note_all_flags, walk_to
from tests.payments_support import bank_file

S = FilingState
OTHER_VILLAGE = "640425101201"


def by_key(items) -> dict:
    return {i.key: i for i in items}


def test_clerk_sees_drafts_publicity_over_and_returns_with_reason(county):
    w = make_world(2)
    later = make_world(1, name="第二个项目")  # another project's draft in the same village
    walk_to(w, S.village_filed)
    act(w.township, w.filing, "return", reason="第2户面积与登记不符")
    with time_machine.travel(w.filing.publicity_ends_at + timedelta(days=1), tick=False):
        work = by_key(waiting_work(w.clerk))
    returned = work["returned"]
    assert returned.count == 1 and returned.tone == "danger"
    (row,) = returned.rows
    assert row.args == {"filing_id": w.filing.id} and "第2户面积与登记不符" in row.note and "乡镇退回" in row.note
    assert w.township.name in row.note
    # the returned filing is not counted again among the plain drafts
    assert work["to_publicize"].count == 1 and work["to_publicize"].rows[0].args == {"filing_id": later.filing.id}
    assert "to_file" not in work

    # publicized again: no longer "returned"; after the period it waits to be filed
    act(w.clerk, w.filing, "publicize", at=T0 + timedelta(days=30))
    assert latest_returns(w.clerk.region_code)[0] == 0
    with time_machine.travel(w.filing.publicity_ends_at + timedelta(minutes=5), tick=False):
        work = by_key(waiting_work(w.clerk))
    assert "returned" not in work and work["to_file"].count == 1
    assert work["to_file"].rows[0].args == {"filing_id": w.filing.id}


def test_reviewers_see_their_tier_only_and_other_villages_do_not_leak(county):
    w = make_world(2)
    walk_to(w, S.village_filed)
    other = make_world(1, village=OTHER_VILLAGE)
    walk_to(other, S.village_filed)
    township = by_key(waiting_work(w.township))
    assert township["to_review"].count == 1 and township["to_review"].rows[0].args == {"filing_id": w.filing.id}
    assert "to_review" not in by_key(waiting_work(w.county))  # nothing at the county's tier yet
    walk_to(w, S.township_approved)
    county_work = by_key(waiting_work(w.county))
    assert county_work["to_review"].count == 1
    assert "to_review" not in by_key(waiting_work(w.township))
    # the other village's clerk sees nothing of this village
    assert "returned" not in by_key(waiting_work(other.clerk))


def test_cases_due_and_overdue_for_the_unit_and_to_escalate_for_the_supervisor(county):
    clerk = make_user("village_clerk", "640425100201")
    township = make_user("township_reviewer", "640425100")
    supervisor = make_user("supervisor", "640425")
    now = utcnow()
    # a village's inquiries are handled by its township (subsidy.cases.routing)
    overdue = record(clerk, at=now - timedelta(days=30), subject="超期的咨询")
    record(clerk, subject="今天的咨询")
    work = by_key(waiting_work(township))
    assert work["cases_overdue"].count == 1 and work["cases_overdue"].rows[0].args == {"case_id": overdue.id}
    assert work["cases_open"].count == 2
    assert "cases_open" not in by_key(waiting_work(clerk))
    # transferred to the village: the clerk's now
    transfer_case(township, overdue.id, "640425100201", "请村里核实")
    db.session.commit()
    assert by_key(waiting_work(clerk))["cases_overdue"].count == 1
    sup = by_key(waiting_work(supervisor))
    assert sup["to_escalate"].count == 1 and sup["to_escalate"].args == {"scope": "all", "overdue": "1"}
    # a case due tomorrow is "due soon"
    soon = db.session.scalars(sa.select(Case).where(Case.subject == "今天的咨询")).one()
    with time_machine.travel(soon.due_at - timedelta(hours=20), tick=False):
        assert by_key(waiting_work(township))["cases_due_soon"].count == 1


def test_county_reviewer_sees_batches_and_failed_payments(county):
    w = make_world(2)
    walk_to(w, S.county_approved)
    work = by_key(waiting_work(w.county))
    assert work["to_batch"].count == 2 and work["to_batch"].rows[0].endpoint == "payments.new_batch"
    batch = payments.create_batch(w.county, w.project.id).batch
    db.session.commit()
    work = by_key(waiting_work(w.county))
    assert work["batches_to_export"].count == 1 and "to_batch" not in work
    assert work["batches_to_export"].rows[0].args == {"batch_id": batch.id}
    rows = [(p.disbursement_id, "失败" if i == 0 else "成功", "账号已销户" if i == 0 else "", f"B{i}", str(p.amount))
            for i, p in enumerate(payments.list_payments(w.county, batch.id).items)]
    stream, name = bank_file(rows, total=True)
    results.import_results(w.county, batch.id, stream, name)
    db.session.commit()
    work = by_key(waiting_work(w.county))
    assert work["payments_failed"].count == 1 and "batches_to_export" not in work
    assert work["payments_failed"].rows[0].args == {"project_id": w.project.id}


def test_admin_sees_accounts_sms_failures_and_risk_flags(county):
    admin = make_user("county_admin", "640425")
    make_user("village_clerk", "640425100201")  # one village has a clerk, with no phone
    db.session.add(Message(key="t:1", template="payment_paid", body="x", to_phone=None, region_code="640425100201",
                           status=MessageStatus.failed, error_message="无手机号码"))
    db.session.commit()
    work = by_key(waiting_work(admin))
    assert work["units_without_staff"].count == 5  # 2 townships + 3 of the 4 villages
    assert work["staff_without_phone"].count == 2  # the clerk and the admin herself
    assert work["sms_failed"].count == 1
    supervisor = make_user("supervisor", "640425")
    assert "sms_failed" not in by_key(waiting_work(supervisor))


def test_home_page_lists_the_work_with_working_links(login_as, county):
    w = make_world(1)
    walk_to(w, S.village_filed)
    act(w.township, w.filing, "return", reason="缺少村委会盖章")
    client = login_as("village_clerk", "640425100201")
    page = client.get("/home").get_data(as_text=True)
    assert 'id="work-returned"' in page and "缺少村委会盖章" in page
    assert f'href="/filings/{w.filing.id}"' in page
    assert client.get(f"/filings/{w.filing.id}").status_code == 200


def test_every_role_home_page_renders(login_as, county):
    for role, code in (("village_clerk", "640425100201"), ("township_reviewer", "640425100"),
                       ("county_reviewer", "640425"), ("county_admin", "640425"), ("supervisor", "640425")):
        resp = login_as(role, code).get("/home")
        assert resp.status_code == 200, role
        assert 'id="waiting-work"' in resp.get_data(as_text=True)


def test_household_file_shows_entries_payments_cases_and_messages(county, login_as):
    w = make_world(2)
    walk_to(w, S.county_approved)
    h = w.households[0]
    batch = payments.create_batch(w.county, w.project.id).batch
    case = record(w.clerk, household_id=h.id, subject="补贴到账了吗")
    db.session.add(Message(key="t:h", template="payment_paid", body="您的补贴已发放", to_phone=h.phone,
                           region_code=h.region_code, household_id=h.id))
    db.session.commit()
    f = household_file(w.clerk, h.id)
    (entry,) = f["entries"]
    assert entry.filing_id == w.filing.id and entry.state == S.county_approved and entry.linked
    (payment,) = f["payments"]
    assert payment.batch_id == batch.id
    assert [c.id for c in f["cases"]] == [case.id]
    assert f["messages"][0].body == "您的补贴已发放" and "已经县级审定" in f["messages"][1].body

    client = login_as("village_clerk", "640425100201")
    page = client.get(f"/households/{h.id}").get_data(as_text=True)
    assert f'href="/filings/{w.filing.id}"' in page and f'href="/cases/{case.id}"' in page
    assert "您的补贴已发放" in page and "待回盘" in page
    # another village's clerk cannot open it at all
    other = login_as("village_clerk", OTHER_VILLAGE)
    assert other.get(f"/households/{h.id}").status_code == 404


def test_supervisor_sees_lists_with_unnoted_risk_flags_until_noted(county):
    w = make_world(2)
    w.households[1].phone = None  # 无手机号码
    db.session.commit()
    walk_to(w, S.village_filed)
    supervisor = make_user("supervisor", "640425")
    item = by_key(waiting_work(supervisor))["risk_flagged"]
    assert item.count == 1 and item.rows[0].args == {"filing_id": w.filing.id}
    note_all_flags(w.township, w.filing)
    assert "risk_flagged" not in by_key(waiting_work(supervisor))
    assert "risk_flagged" not in by_key(waiting_work(w.township))  # reviewers are not audit readers
