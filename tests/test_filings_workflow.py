"""The transition table (DESIGN.md "Three-level filing and review"), row by row, and every
refusal: pairs the table does not have, wrong role, wrong tier, wrong region, stale version,
missing reason; the publicity period; the budget; the SMS at 审定."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
import time_machine

from subsidy.accounts.models import Role
from subsidy.audit.models import AuditEvent
from subsidy.errors import InvalidTransition, NotFound, PermissionDenied, StaleVersion, ValidationError
from subsidy.extensions import db
from subsidy.filings import entries, workflow
from subsidy.filings.models import Action, Filing, FilingState, Review, Snapshot, Stage
from subsidy.notify.models import Message
from tests.factories import HouseholdFactory, RegionFactory, UserFactory, make_user
from tests.filings_support import T0, act, make_world, note_all_flags, walk_to

S = FilingState


def _reviews(filing):
    return db.session.scalars(sa.select(Review).where(Review.filing_id == filing.id).order_by(Review.id)).all()


def _stages(filing):
    return [s.stage for s in db.session.scalars(sa.select(Snapshot).where(Snapshot.filing_id == filing.id)
                                                .order_by(Snapshot.id))]


def test_every_row_of_the_table(county):
    w = make_world(3)
    f = w.filing
    assert f.state == S.draft and f.version == 1

    # draft --publicize--> publicizing: snapshot `publicized`, the period from now
    act(w.clerk, f, "publicize", at=T0)
    assert (f.state, f.version, f.round) == (S.publicizing, 2, 1)
    assert f.publicized_at == T0 and f.publicity_ends_at == T0 + timedelta(days=w.project.publicity_days)
    # publicizing --withdraw--> draft (reason)
    act(w.clerk, f, "withdraw", at=T0 + timedelta(hours=1), reason="发现名单有误")
    assert f.state == S.draft
    act(w.clerk, f, "publicize", at=T0 + timedelta(hours=2))
    assert f.round == 2
    # publicizing --submit--> village_filed: snapshot `village`
    act(w.clerk, f, "submit")
    assert f.state == S.village_filed
    # village_filed --return--> draft (township, reason)
    act(w.township, f, "return", reason="请补充证明材料")
    assert f.state == S.draft
    act(w.clerk, f, "publicize", at=f.publicity_ends_at + timedelta(days=1))
    act(w.clerk, f, "submit")
    # village_filed --approve--> township_approved: snapshot `township`
    act(w.township, f, "approve", comment="同意")
    assert f.state == S.township_approved
    # township_approved --return--> village_filed (county, to the township)
    act(w.county, f, "return", reason="请乡镇复核", to="village_filed")
    assert f.state == S.village_filed
    act(w.township, f, "approve")
    # township_approved --return--> draft (county, to the village)
    act(w.county, f, "return", reason="退回村级重新公示", to="draft")
    assert f.state == S.draft
    act(w.clerk, f, "publicize", at=f.publicity_ends_at + timedelta(days=1))
    act(w.clerk, f, "submit")
    act(w.township, f, "approve")
    # township_approved --approve--> county_approved: snapshot `county`, SMS
    act(w.county, f, "approve", comment="审定")
    assert f.state == S.county_approved
    # county_approved --(payments)--> paid
    act(w.county, f, "pay", internal=True)
    assert f.state == S.paid

    reviews = _reviews(f)
    assert [(r.action, r.from_state, r.to_state) for r in reviews] == [
        (Action.publicize, S.draft, S.publicizing), (Action.withdraw, S.publicizing, S.draft),
        (Action.publicize, S.draft, S.publicizing), (Action.submit, S.publicizing, S.village_filed),
        (Action.return_, S.village_filed, S.draft), (Action.publicize, S.draft, S.publicizing),
        (Action.submit, S.publicizing, S.village_filed), (Action.approve, S.village_filed, S.township_approved),
        (Action.return_, S.township_approved, S.village_filed), (Action.approve, S.village_filed, S.township_approved),
        (Action.return_, S.township_approved, S.draft), (Action.publicize, S.draft, S.publicizing),
        (Action.submit, S.publicizing, S.village_filed), (Action.approve, S.village_filed, S.township_approved),
        (Action.approve, S.township_approved, S.county_approved), (Action.pay, S.county_approved, S.paid)]
    assert [r.version for r in reviews] == list(range(2, 18)) and f.version == 17
    assert reviews[1].comment == "发现名单有误" and reviews[4].comment == "请补充证明材料"
    assert [r.actor_id for r in reviews[:4]] == [w.clerk.id] * 4 and reviews[14].actor_id == w.county.id
    assert _stages(f)[-5:] == [Stage.publicized, Stage.village, Stage.township, Stage.county, Stage.paid]
    audit = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.object_type == "filing",
                                                                  AuditEvent.action.in_(
                                                                      [f"filing.{a.value}" for a in Action]))).all()
    assert len(audit) == 16


def _filings_in_every_state(county):
    """One filing per state, each in its own village's world (so no entry is shared)."""
    out = {}
    villages = ["640425100201", "640425100202", "640425101201", "640425101202"]
    extra = [RegionFactory(code=f"640425100{n}", name=f"村{n}", level="village", parent_code="640425100")
             for n in (203, 204)]
    db.session.commit()
    villages += [r.code for r in extra]
    for state, village in zip(FilingState, villages, strict=True):
        w = make_world(2, village=village)
        walk_to(w, state)
        out[state] = w
    return out


def test_every_pair_the_table_does_not_allow_is_refused(county):
    worlds = _filings_in_every_state(county)
    public = [Action.publicize, Action.withdraw, Action.submit, Action.approve, Action.return_]
    refused = 0
    for state, w in worlds.items():
        for action in public:
            if workflow.MACHINE.allows(state, action):
                continue
            for actor in (w.clerk, w.township, w.county):
                before = (w.filing.state, w.filing.version)
                with pytest.raises(InvalidTransition) as exc:
                    workflow.perform(actor, w.filing.id, action, version=w.filing.version, reason="x", to="draft")
                db.session.rollback()
                assert "不能" in exc.value.message
                assert (w.filing.state, w.filing.version) == before
                refused += 1
        # `pay` is for the payments area only: never through a page or the API.
        with pytest.raises(InvalidTransition):
            workflow.perform(w.county, w.filing.id, "pay", version=w.filing.version)
        db.session.rollback()
    assert refused == 3 * (6 * 5 - 7)  # 6 states × 5 actions, minus the 7 public rows
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Review)) == sum(
        len(_reviews(w.filing)) for w in worlds.values())


def role_of(rule) -> Role:
    """The one role that takes a row of the filing table (its permission at its tier)."""
    from subsidy.accounts.models import ROLE_LEVELS
    from subsidy.accounts.permissions import holders

    (role,) = [r for r in holders(rule.perm) if rule.tier in ROLE_LEVELS[r]]
    return role


def test_wrong_role_tier_and_region_are_refused(county):
    worlds = _filings_in_every_state(county)
    RegionFactory(code="640402", name="原州区", level="county")
    RegionFactory(code="640402100", name="别镇", level="township", parent_code="640402")
    db.session.commit()
    others = {
        "admin": make_user("county_admin"), "supervisor": make_user("supervisor"),
        "township_supervisor": make_user("supervisor", "640425100"),
    }
    for (state, action), t in workflow.MACHINE.by_source.items():
        if t.internal:
            continue
        t_role = role_of(t)
        w = worlds[state]
        village = w.filing.region_code
        right = {Role.village_clerk: w.clerk, Role.township_reviewer: w.township, Role.county_reviewer: w.county}
        # every other role, in the right region: 403
        wrong_roles = [u for r, u in right.items() if r != t_role] + list(others.values())
        for actor in wrong_roles:
            if not actor.region_code or not village.startswith(actor.region_code):
                continue
            with pytest.raises(PermissionDenied):
                workflow.perform(actor, w.filing.id, action, version=w.filing.version, reason="x", to="draft")
            db.session.rollback()
        # the right role in another region: 404, as if the filing did not exist
        elsewhere = {Role.village_clerk: "640425101202" if village != "640425101202" else "640425100201",
                     Role.township_reviewer: "640425101" if not village.startswith("640425101") else "640425100",
                     Role.county_reviewer: "640402"}[t_role]
        stranger = make_user(t_role.value, elsewhere)
        with pytest.raises(NotFound):
            workflow.perform(stranger, w.filing.id, action, version=w.filing.version, reason="x", to="draft")
        db.session.rollback()
        # the right role at the wrong tier (an account made behind the accounts rules): 403
        misplaced = UserFactory(role=t_role, region_code=village[:6] if t_role != Role.county_reviewer else village[:9])
        db.session.commit()
        with pytest.raises(PermissionDenied, match="级操作"):
            workflow.perform(misplaced, w.filing.id, action, version=w.filing.version, reason="x", to="draft")
        db.session.rollback()
        assert w.filing.state == state


def test_reason_to_and_version_are_required(county):
    w = make_world(2)
    f = walk_to(w, S.publicizing)
    with pytest.raises(ValidationError) as exc:
        workflow.perform(w.clerk, f.id, "withdraw", version=f.version, reason="  ")
    assert "reason" in exc.value.fields
    db.session.rollback()
    with pytest.raises(StaleVersion):
        workflow.perform(w.clerk, f.id, "withdraw", version=f.version - 1, reason="错了")
    db.session.rollback()
    with pytest.raises(ValidationError):
        workflow.perform(w.clerk, f.id, "launch", version=f.version)
    db.session.rollback()
    walk_to(w, S.township_approved)
    with pytest.raises(ValidationError) as exc:
        workflow.perform(w.county, f.id, "return", version=f.version, reason="复核")
    assert "to" in exc.value.fields
    db.session.rollback()
    with pytest.raises(ValidationError):
        workflow.perform(w.county, f.id, "return", version=f.version, reason="复核", to="paid")
    db.session.rollback()
    act(w.county, f, "return", reason="复核", to="township")  # the tier's name works as well
    assert f.state == S.village_filed
    with pytest.raises(ValidationError):
        workflow.perform(w.township, f.id, "return", version=f.version)
    db.session.rollback()
    assert f.state == S.village_filed and len(_reviews(f)) == 4


def test_publicize_needs_an_entry(county):
    w = make_world(1)
    entries.delete_entry(w.clerk, w.filing.id, _only_entry(w.filing))
    db.session.commit()
    with pytest.raises(InvalidTransition, match="名单为空"):
        workflow.perform(w.clerk, w.filing.id, "publicize", version=w.filing.version)
    db.session.rollback()
    assert w.filing.state == S.draft and w.filing.version == 1


def _only_entry(filing):
    from subsidy.filings.models import Entry

    return db.session.scalar(sa.select(Entry.id).where(Entry.filing_id == filing.id))


def test_publicity_period_counts_calendar_days_from_publicizing(county):
    w = make_world(2, publicity_days=5)
    f = w.filing
    act(w.clerk, f, "publicize", at=T0)
    assert f.publicity_ends_at == T0 + timedelta(days=5)
    with time_machine.travel(T0 + timedelta(days=4, hours=23, minutes=59), tick=False):
        with pytest.raises(InvalidTransition, match="公示期") as exc:
            workflow.perform(w.clerk, f.id, "submit", version=f.version)
        assert "还剩 0 天 0 小时" in exc.value.message
        db.session.rollback()
    act(w.clerk, f, "submit", at=T0 + timedelta(days=5))
    assert f.state == S.village_filed


def test_a_list_changed_after_a_return_must_be_publicized_again(county):
    w = make_world(3)
    f = walk_to(w, S.village_filed)
    act(w.township, f, "return", reason="多报了一户")
    entries.delete_entry(w.clerk, f.id, _only_entry(f))
    db.session.commit()
    assert f.list_changed
    # the only way out of draft is a new publicity, with its own full period
    with pytest.raises(InvalidTransition):
        act(w.clerk, f, "submit")
    db.session.rollback()
    start = f.publicity_ends_at + timedelta(days=2)
    act(w.clerk, f, "publicize", at=start)
    assert not f.list_changed and f.round == 2
    with pytest.raises(InvalidTransition, match="公示期"):
        act(w.clerk, f, "submit", at=start + timedelta(days=1))
    db.session.rollback()
    act(w.clerk, f, "submit")
    snaps = {s.stage: s for s in db.session.scalars(sa.select(Snapshot).where(Snapshot.filing_id == f.id,
                                                                            Snapshot.round == 2))}
    assert snaps[Stage.village].entry_count == 2 == snaps[Stage.publicized].entry_count


def test_a_list_changed_behind_the_workflow_cannot_be_filed(county):
    """The clerk's edit path refuses while publicizing; a change made another way is caught
    by the digest: the village snapshot must equal the publicized one."""
    w = make_world(2)
    f = walk_to(w, S.publicizing)
    h = HouseholdFactory(region_code=f.region_code)
    with pytest.raises(InvalidTransition):
        entries.add_entry(w.clerk, f.id, h.id)
    db.session.rollback()
    db.session.execute(sa.text("UPDATE filing_entries SET amount = amount + 100 WHERE filing_id = :f"), {"f": f.id})
    db.session.commit()
    with pytest.raises(InvalidTransition, match="与公示名单不一致（变更 2 户（金额））"):
        act(w.clerk, f, "submit")
    db.session.rollback()
    assert f.state == S.publicizing
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Snapshot).where(
        Snapshot.filing_id == f.id, Snapshot.stage == Stage.village)) == 0


def test_township_approval_needs_a_note_on_every_flagged_entry(county):
    w = make_world(3)
    w.households[0].phone = None  # a risk: no mobile number
    db.session.commit()
    f = walk_to(w, S.village_filed)
    with pytest.raises(InvalidTransition, match="还有 1 户有风险提示"):
        act(w.township, f, "approve")
    db.session.rollback()
    note_all_flags(w.township, f)
    act(w.township, f, "approve")
    assert f.state == S.township_approved


def test_county_approval_needs_a_note_on_a_flag_its_recheck_raised(county, api_as):
    """Issue 17: a household put on the watch list after the township approved is flagged at the
    county's re-check; the county approves only once that entry is answered. The refusal names
    the household and keeps the flag, so the page shows which entry to answer."""
    from subsidy.filings.models import EntryFlag, FlagCode, WatchCategory, WatchListEntry

    w = make_world(3)
    f = walk_to(w, S.township_approved)
    target = w.households[1]
    db.session.add(WatchListEntry(county_code="640425", id_number=target.id_number, name=target.head_name,
                                  category=list(WatchCategory)[0], source="县民政局"))
    db.session.commit()
    api = api_as("county_reviewer")
    r = api.post(f"/api/v1/filings/{f.id}/actions/approve", json={"version": f.version})
    assert r.status_code == 409 and "复核发现 1 户" in r.json["error"]["message"]
    assert target.head_name in r.json["error"]["message"]
    db.session.expire_all()
    assert db.session.get(Filing, f.id).state == S.township_approved
    kept = db.session.scalars(sa.select(EntryFlag.code).where(EntryFlag.filing_id == f.id)).all()
    assert FlagCode.watch_list in kept   # the re-check's flag stayed for the page
    note_all_flags(w.county, f)
    db.session.expire_all()
    r = api.post(f"/api/v1/filings/{f.id}/actions/approve", json={"version": db.session.get(Filing, f.id).version})
    assert r.status_code == 200 and r.json["state"] == "county_approved"


def test_county_approval_is_refused_beyond_the_budget(county):
    w = make_world(2, budget=Decimal("2000.00"))  # each household: 105 × 12.50 = 1312.50
    f = walk_to(w, S.township_approved)
    with pytest.raises(InvalidTransition) as exc:
        act(w.county, f, "approve")
    assert exc.value.message == ("超出项目预算，不能审定：预算 2000.00 元，已审定 0.00 元，本批 2625.00 元，"
                                 "超出 625.00 元")
    db.session.rollback()
    assert f.state == S.township_approved and db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 0
    w.project.budget = Decimal("2625.00")  # exactly enough
    db.session.commit()
    act(w.county, f, "approve")
    assert f.state == S.county_approved


def test_budget_counts_what_the_county_already_approved(county):
    first = make_world(1, budget=Decimal("2000.00"))
    walk_to(first, S.county_approved)
    second_households = [HouseholdFactory(region_code="640425100202")]
    clerk = make_user("village_clerk", "640425100202")
    from subsidy.filings import service

    with time_machine.travel(T0, tick=False):
        f2 = service.start_filing(clerk, first.project.id)
        entries.add_entry(clerk, f2.id, second_households[0].id)
        db.session.commit()
    from tests.filings_support import World

    w2 = World(first.project, second_households, clerk, first.township, first.county, f2)
    walk_to(w2, S.township_approved)
    with pytest.raises(InvalidTransition, match="已审定 1312.50 元，本批 1312.50 元"):
        act(first.county, f2, "approve")


def test_county_approval_enqueues_one_sms_per_household_and_never_more(county):
    w = make_world(4)
    w.households[3].phone = None
    db.session.commit()
    f = walk_to(w, S.county_approved)
    rows = db.session.scalars(sa.select(Message).order_by(Message.household_id)).all()
    assert len(rows) == 4
    assert {m.household_id for m in rows} == {h.id for h in w.households}
    assert all(m.template == "filing_approved" and m.key.startswith(f"filing_approved:{f.id}:") for m in rows)
    assert "1312.50元已经县级审定" in rows[0].body and w.project.name in rows[0].body
    assert rows[3].status.value == "failed" and rows[3].error_code == "no_phone"  # visibly not sent
    # approving again is not a row of the table, and replaying the effect owes nothing new
    with pytest.raises(InvalidTransition):
        act(w.county, f, "approve")
    db.session.rollback()
    ctx = workflow.Context(f, w.county, workflow.MACHINE.rule(S.township_approved, Action.approve), S.county_approved,
                           S.township_approved, "", T0)
    workflow.notify_households(ctx)
    db.session.commit()
    assert ctx.detail["sms_enqueued"] == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 4


def test_refused_transition_leaves_nothing_behind(county):
    """A guard refusing after the claim rolls back to the savepoint: state, version, flags,
    snapshots, reviews and audit are as before."""
    w = make_world(2, budget=Decimal("1.00"))
    f = walk_to(w, S.township_approved)
    counts = {m: db.session.scalar(sa.select(sa.func.count()).select_from(m)) for m in (Snapshot, Review, AuditEvent)}
    with pytest.raises(InvalidTransition):
        workflow.perform(w.county, f.id, "approve", version=f.version)
    # no rollback by the caller: the service itself left nothing in the session's transaction
    db.session.commit()
    db.session.expire_all()
    assert (f.state, f.version) == (S.township_approved, 4)
    assert counts == {m: db.session.scalar(sa.select(sa.func.count()).select_from(m)) for m in counts}
    assert db.session.get(Filing, f.id).state == S.township_approved
