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
        service.reply_case(world.township, case.id, "经核实，该户仍在本村耕种，符合条件。")
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
