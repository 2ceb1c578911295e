"""The case table walked row by row (subsidy.cases.workflow.MACHINE), through the services the
pages and the API call: every row works from its state for one who holds its permission;
every other (state, action) pair is refused with the state named (409) and changes nothing;
a role without the row's permission is refused (403); the page offers exactly the rows the
actor may take. Driven by the table: a new row, state or permission needs a line below."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
import time_machine

from subsidy.accounts.models import Role
from subsidy.accounts.permissions import ROLE_PERMS, Perm
from subsidy.cases import escalation, queries, service, workflow
from subsidy.cases.models import Case, CaseEvent, CaseState
from subsidy.cases.workflow import MACHINE, Action
from subsidy.errors import InvalidTransition, PermissionDenied
from tests.cases_support import COUNTY, TOWNSHIP, china, record
from tests.factories import make_user

T = china(2024, 3, 4, 9)  # a Monday

# Who takes a row needing each permission, where its guards let them: the handling unit
# handles; another unit (the county) records the rating of a return call; a supervisor 督办.
ACTOR_FOR = {
    Perm.handle_cases: ("township_reviewer", TOWNSHIP),
    Perm.record_cases: ("county_reviewer", COUNTY),
    Perm.escalate_cases: ("supervisor", COUNTY),
}


def _target(case: Case) -> str:
    return queries.transfer_targets(case)[0].code


# The service the pages and the API call for each action a person takes.
TAKE = {
    Action.accept: lambda actor, case, anchor: service.accept_case(actor, case.id),
    Action.reply: lambda actor, case, anchor: service.reply_case(actor, case.id, "已答复"),
    Action.transfer: lambda actor, case, anchor: service.transfer_case(actor, case.id, _target(case), "转办原因"),
    Action.reject: lambda actor, case, anchor: service.reject_case(actor, case.id, "无效诉求"),
    Action.merge: lambda actor, case, anchor: service.merge_case(actor, case.id, anchor.ref_no, "重复"),
    Action.escalate: lambda actor, case, anchor: escalation.escalate_case(actor, case.id, "请加快办理"),
    Action.close_rated: lambda actor, case, anchor: service.record_rating(actor, case.id, "满意"),
    Action.reopen: lambda actor, case, anchor: service.record_rating(actor, case.id, "不满意", "没有解决"),
}
PUBLIC = {r.action for r in MACHINE.rules if not r.internal}
# How a case reaches each state from 已受理.
PATHS = {
    CaseState.received: [],
    CaseState.in_progress: [Action.accept],
    CaseState.replied: [Action.reply],
    CaseState.closed: [Action.reply, Action.close_rated],
    CaseState.rejected: [Action.reject],
    CaseState.merged: [Action.merge],
}


def at(fn, *args, **kw):
    with time_machine.travel(T + timedelta(hours=2), tick=False):
        return fn(*args, **kw)


class World:
    def __init__(self):
        self.actors = {perm: make_user(role, code) for perm, (role, code) in ACTOR_FOR.items()}
        handler = self.actors[Perm.handle_cases]
        # The earlier case a duplicate is merged into.
        self.anchor = record(handler, at=T)

    def actor(self, action: Action):
        return self.actors[workflow.perm_of(action)]

    def take(self, action: Action, case: Case, actor=None):
        return at(TAKE[action], actor or self.actor(action), case, self.anchor)

    def case_in(self, state: CaseState, db) -> Case:
        case = record(self.actors[Perm.handle_cases], at=T + timedelta(hours=1))
        for action in PATHS[state]:
            self.take(action, case)
        db.session.commit()
        assert case.state == state
        return case


def _state_of(case_id: int) -> tuple[CaseState, int]:
    from subsidy.extensions import db

    return db.session.execute(sa.select(Case.state, Case.version).where(Case.id == case_id)).one()


def test_the_walk_covers_the_table():
    assert set(PATHS) == set(CaseState)
    assert set(TAKE) == PUBLIC
    assert {workflow.perm_of(a) for a in PUBLIC} <= set(ACTOR_FOR)


def test_every_row_works_for_one_who_holds_its_permission(county, db):
    w = World()
    for (state, action), rule in MACHINE.by_source.items():
        case = w.case_in(state, db)
        events_before = len(case.events)
        if rule.internal:
            # Another area's or a job's row: no page or API may take it, the job's bulk update does.
            with pytest.raises(InvalidTransition):
                MACHINE.check(state, action)
            changed = at(workflow.apply_bulk, action, [Case.id == case.id], {"closed_at": T}, note="系统")
            assert changed == [(case.id, case.region_code)]
        else:
            w.take(action, case)
        db.session.commit()
        db.session.expire_all()
        assert case.state == rule.target_from(state), (state, action)
        last = db.session.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case.id)
                                  .order_by(CaseEvent.id.desc()).limit(1)).one()
        assert last.kind == rule.extra["event"] and len(case.events) > events_before


def test_every_other_pair_is_refused_and_changes_nothing(county, db):
    w = World()
    refused = 0
    for state in CaseState:
        case = w.case_in(state, db)
        for action in PUBLIC:
            if MACHINE.allows(state, action):
                continue
            before = _state_of(case.id)
            with pytest.raises(InvalidTransition) as exc:
                w.take(action, case)
            db.session.rollback()
            assert "不能" in exc.value.message and exc.value.status == 409
            assert _state_of(case.id) == before
            refused += 1
        for action in {r.action for r in MACHINE.rules if r.internal}:
            with pytest.raises(InvalidTransition):
                MACHINE.check(state, action)
    public_rows = sum(1 for r in MACHINE.rules if not r.internal for _ in r.sources)
    assert refused == len(CaseState) * len(PUBLIC) - public_rows


def test_a_role_without_the_rows_permission_is_refused(county, db):
    w = World()
    checked = 0
    for (state, action), rule in MACHINE.by_source.items():
        if rule.internal:
            continue
        case = w.case_in(state, db)
        for role in Role:
            if rule.perm in ROLE_PERMS[role]:
                continue
            stranger = make_user(role.value)
            with pytest.raises(PermissionDenied) as exc:
                w.take(action, case, stranger)
            db.session.rollback()
            assert exc.value.status == 403
            assert case.state == state
            checked += 1
    assert checked > 0


def test_the_page_offers_exactly_the_rows_the_actor_may_take(county, db):
    w = World()
    for state in CaseState:
        case = w.case_in(state, db)
        for perm, actor in w.actors.items():
            offered = queries.case_page(actor, case.id)["actions"]
            # never a row the table does not allow this actor from this state …
            assert offered <= {r.action.value for r in MACHINE.actions_for(actor, state)}, (state, perm)
            # … and every row of the actor's own permission from it (their guards pass here)
            own = {r.action.value for r in MACHINE.rules if r.perm == perm and state in r.sources}
            assert own <= offered, (state, perm)
        # The handling unit does not grade its own reply: no rating offered to it.
        handler = w.actors[Perm.handle_cases]
        rating = {Action.close_rated.value, Action.reopen.value}
        assert not rating & queries.case_page(handler, case.id)["actions"]
