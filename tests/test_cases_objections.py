"""Objections (异议) on publicized entries: routed to the reviewing township, counted for the
filing's 村级备案 guard, listed for its review page (DESIGN.md "Cases")."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
import time_machine

from subsidy.cases import service
from subsidy.cases.models import CaseKind, CaseState
from subsidy.errors import InvalidTransition, ValidationError
from subsidy.filings.models import Entry, FilingState
from tests.cases_support import TOWNSHIP, VILLAGE, VILLAGE_2, record
from tests.filings_support import T0, act, make_world


@pytest.fixture
def world(county):
    w = make_world(3)
    act(w.clerk, w.filing, "publicize", at=T0)
    assert w.filing.state == FilingState.publicizing
    return w


def entry_ids(w):
    from subsidy.extensions import db

    return db.session.scalars(sa.select(Entry.id).where(Entry.filing_id == w.filing.id).order_by(Entry.id)).all()


def object_to(actor, w, entry_id, at=None, **kw):
    data = {"kind": "objection", "entry_id": entry_id, "subject": "不符合条件",
            "body": "此户已外出务工多年，土地已流转，不应享受补贴。", "region_code": None}
    data.update(kw)
    return record(actor, at=at or T0 + timedelta(days=1), **data)


def test_an_objection_goes_to_the_reviewing_township_and_is_counted(world):
    entry = entry_ids(world)[0]
    case = object_to(world.township, world, entry)
    assert case.kind == CaseKind.objection and case.ref_no.startswith("YY-2017-")
    assert case.region_code == VILLAGE and case.assigned_region_code == TOWNSHIP
    assert case.due_days == 5
    assert service.count_open_objections(world.filing.id) == 1
    assert [c.id for c in service.objections_for_filing(world.filing.id)] == [case.id]
    assert service.count_open_objections(world.filing.id + 1) == 0


def test_the_filing_cannot_be_filed_while_an_objection_is_open(world, db):
    case = object_to(world.township, world, entry_ids(world)[1])
    after = world.filing.publicity_ends_at + timedelta(minutes=1)
    with pytest.raises(InvalidTransition, match="异议"):
        act(world.clerk, world.filing, "submit", at=after)
    db.session.rollback()
    with time_machine.travel(after, tick=False):
        service.reply_case(world.township, case.id, "经核实，该户仍在本村耕种，符合条件。", "unsubstantiated")
    db.session.commit()
    assert service.count_open_objections(world.filing.id) == 0
    act(world.clerk, world.filing, "submit", at=after)
    assert world.filing.state == FilingState.village_filed
    replied = service.objections_for_filing(world.filing.id)
    assert replied[0].state == CaseState.replied and "仍在本村" in replied[0].reply_body


def test_a_rejected_objection_does_not_block(world):
    case = object_to(world.township, world, entry_ids(world)[0])
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        service.reject_case(world.township, case.id, "重复异议")
    assert service.count_open_objections(world.filing.id) == 0


def test_objection_refusals(county):
    w = make_world(2)  # a draft: not publicized
    entry = entry_ids(w)[0]
    with pytest.raises(ValidationError) as exc:
        object_to(w.township, w, entry)
    assert "公示期" in exc.value.fields["entry_id"]
    with pytest.raises(ValidationError) as exc:
        object_to(w.township, w, None)
    assert "entry_id" in exc.value.fields
    with pytest.raises(ValidationError) as exc:
        object_to(w.township, w, 999999)
    assert "entry_id" in exc.value.fields
    with pytest.raises(ValidationError) as exc:
        record(w.township, at=T0, kind="inquiry", entry_id=entry)
    assert "entry_id" in exc.value.fields


def test_an_objection_names_the_filings_village(world):
    with pytest.raises(ValidationError) as exc:
        object_to(world.township, world, entry_ids(world)[0], region_code=VILLAGE_2)
    assert "region_code" in exc.value.fields


def test_a_farmer_objects_from_the_mobile_page(world):
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        case = service.submit_case(kind="objection", entry_id=entry_ids(world)[2], subject="有异议",
                                   body="该户家庭人口登记不实", contact_phone="13909541234", contact_name="")
    assert case.channel.value == "mobile" and case.created_by is None
    assert case.events[0].actor_name == "农户"


def test_the_objection_is_shown_on_its_entry_and_the_case_names_it(world, login_as):
    """Both ways: the filing's page tags the entry with the open objection (and counts them);
    the case page names the household and links the entry; the refusal names the objection."""
    from subsidy.extensions import db
    from subsidy.households.models import Household

    first = entry_ids(world)[0]
    case = object_to(world.township, world, first)
    name = db.session.scalar(sa.select(Household.head_name).join(Entry, Entry.household_id == Household.id)
                             .where(Entry.id == first))
    for role, region in (("township_reviewer", TOWNSHIP), ("village_clerk", VILLAGE)):
        page = login_as(role, region).get(f"/filings/{world.filing.id}").get_data(as_text=True)
        row = page[page.index(f'id="entry-{first}"'):]
        row = row[:row.index("</tr>")]
        assert case.ref_no in row and "objection-tag" in row
        assert f'href="/cases/{case.id}"' in row  # both may open the case
        assert 'id="objections"' in page and "1 件未办结，共 1 件" in page
    others = page[page.index(f'id="entry-{entry_ids(world)[1]}"'):]
    assert case.ref_no not in others[:others.index("</tr>")]

    township = login_as("township_reviewer", TOWNSHIP)
    page = township.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "农户 #" not in page and "公示名单条目 #" not in page
    assert "异议的名单条目" in page and name in page
    assert f"/filings/{world.filing.id}?q=" in page and f"#entry-{first}" in page


def test_a_not_received_complaint_is_not_called_an_objection(world, login_as):
    walk = entry_ids(world)[1]
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        case = service.open_receipt_complaint(region_code=VILLAGE, subject="没有收到补贴", body="农户反映没有收到。",
                                              phone="13909541234", entry_id=walk)
    from subsidy.extensions import db

    db.session.commit()
    page = login_as("county_reviewer").get(f"/cases/{case.id}").get_data(as_text=True)
    assert "涉及的补贴" in page and "异议的名单条目" not in page and "异议条目" not in page


def test_staff_pick_the_objected_household_by_name(world, login_as):
    from subsidy.extensions import db
    from subsidy.households.models import Household

    target = entry_ids(world)[2]
    person = db.session.scalar(sa.select(Household).join(Entry, Entry.household_id == Household.id)
                               .where(Entry.id == target))
    objector = db.session.scalar(sa.select(Household).join(Entry, Entry.household_id == Household.id)
                                 .where(Entry.id == entry_ids(world)[0]))
    web = login_as("township_reviewer", TOWNSHIP)
    page = web.get("/cases/new").get_data(as_text=True)
    assert "条目编号" not in page and "农户编号" not in page and 'name="entry_q"' in page

    data = {"kind": "objection", "channel": "phone", "region_code": "", "subject": "不应享受",
            "body": "此户已外出多年。", "contact_phone": "13909541234", "contact_name": "马大爷"}
    found = web.post("/cases/new", data={**data, "entry_q": person.head_name, "find": "1"})
    text = found.get_data(as_text=True)
    assert found.status_code == 200 and f'value="{target}"' in text and person.id_number in text
    nothing = web.post("/cases/new", data={**data, "entry_q": "没有这个人", "find": "1"}).get_data(as_text=True)
    assert "没有找到" in nothing

    wrong = web.post("/cases/new", data={**data, "entry_id": str(target), "household_id_number": "640425000000000000"})
    assert wrong.status_code == 422 and "本县农户名册中没有这个身份证号" in wrong.get_data(as_text=True)
    assert f'selected value="{target}"' in wrong.get_data(as_text=True)  # the choice is kept

    done = web.post("/cases/new", data={**data, "entry_id": str(target), "household_id_number": objector.id_number})
    assert done.status_code == 302
    case = service.objections_for_filing(world.filing.id)[0]
    assert case.entry_id == target and case.household_id == objector.id and case.region_code == VILLAGE

    # From the filing's page: 登记异议 on an entry opens the form with that household chosen.
    page = web.get(f"/filings/{world.filing.id}").get_data(as_text=True)
    assert f"/cases/new?entry_id={target}" in page
    form = web.get(f"/cases/new?entry_id={target}").get_data(as_text=True)
    assert f'selected value="{target}"' in form and 'selected value="objection"' in form


def test_the_lists_count_a_filings_open_objections(world, login_as):
    case = object_to(world.township, world, entry_ids(world)[0])
    object_to(world.township, world, entry_ids(world)[1])
    listing = login_as("village_clerk", VILLAGE).get("/filings/").get_data(as_text=True)
    assert f'href="/filings/{world.filing.id}#objections">未办结异议 2</a>' in listing
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        service.reply_case(world.township, case.id, "经核实，符合条件。", "unsubstantiated")
    from subsidy.extensions import db

    db.session.commit()
    listing = login_as("village_clerk", VILLAGE).get("/filings/").get_data(as_text=True)
    assert "未办结异议 1</a>" in listing
