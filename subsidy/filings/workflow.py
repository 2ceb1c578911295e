"""The transition table of a filing: the ONLY code that changes `Filing.state`.

DESIGN.md "Three-level filing and review" is the law; `TABLE` below is that table, row by row.
Every transition, in this order:

1. finds the filing in the actor's region (else 404), the row for (state, action) (else 409),
   checks the actor's role and tier against the row (else 403), the version the actor saw
   (else 409 stale) and the reason where the row wants one (else 400);
2. claims the transition with one conditional UPDATE (`… WHERE id = :id AND version = :v`):
   of two reviewers acting at once exactly one changes a row, the other gets StaleVersion (on
   PostgreSQL the second UPDATE waits for the first to commit, then matches nothing);
3. runs the row's guards and takes its snapshot; a refusal here undoes the claim (SAVEPOINT);
4. writes the review record and the audit event, and the row's effects (SMS at 审定).
Services flush, never commit: the request (or command) commits once."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from subsidy.accounts.models import ROLE_LABEL, Role
from subsidy.audit import service as audit
from subsidy.common.money import fmt, quantize
from subsidy.common.timeutil import to_local, utcnow
from subsidy.errors import InvalidTransition, NotFound, PermissionDenied, StaleVersion, ValidationError
from subsidy.extensions import db
from subsidy.filings import risk, snapshots
from subsidy.filings.models import (
    ACTION_LABEL,
    STATE_LABEL,
    Action,
    Entry,
    EntryFlag,
    EntryNote,
    Filing,
    FilingState,
    Review,
    Snapshot,
    Stage,
)
from subsidy.filings.objections import open_objection_count
from subsidy.households.models import Household
from subsidy.projects.models import Project
from subsidy.regions.models import LEVEL_LABEL, Level
from subsidy.regions.scope import covers, ensure_visible

S = FilingState


@dataclass
class Context:
    filing: Filing
    actor: object
    transition: Transition
    to: FilingState
    from_state: FilingState
    comment: str
    now: datetime
    snapshot: Snapshot | None = None
    detail: dict = field(default_factory=dict)


Guard = Callable[[Context], None]


@dataclass(frozen=True)
class Transition:
    source: FilingState
    action: Action
    targets: tuple[FilingState, ...]  # more than one: the actor says which (`to`)
    role: Role
    tier: Level
    reason: bool = False              # a reason is required
    recheck: bool = False             # rerun the risk checks first
    guards: tuple[Guard, ...] = ()
    prepare: tuple[Guard, ...] = ()    # changes made before the snapshot (the publicity period)
    stage: Stage | None = None        # snapshot taken
    must_equal_publicized: bool = False
    effects: tuple[Guard, ...] = ()   # after the snapshot (the SMS)
    internal: bool = False            # driven by another area (payments), not by a page or the API


# --- guards -------------------------------------------------------------------------------

def _entry_count(filing: Filing) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Entry).where(Entry.filing_id == filing.id))


def has_entries(ctx: Context) -> None:
    if _entry_count(ctx.filing) == 0:
        raise InvalidTransition("名单为空，至少添加一户后才能公示")


def publicity_over(ctx: Context) -> None:
    ends = ctx.filing.publicity_ends_at
    if ends is None or ctx.now < ends:
        left = (ends - ctx.now) if ends else None
        when = to_local(ends).strftime("%Y-%m-%d %H:%M") if ends else "—"
        rest = f"，还剩 {left.days} 天 {left.seconds // 3600} 小时" if left else ""
        raise InvalidTransition(f"公示期到 {when} 才结束{rest}；公示期满后才能村级备案")


def no_open_objection(ctx: Context) -> None:
    n = open_objection_count(ctx.filing)
    if n:
        raise InvalidTransition(f"还有 {n} 件异议没有办结，办结后才能村级备案")


def list_unchanged(ctx: Context) -> None:
    if ctx.filing.list_changed:
        raise InvalidTransition("名单在公示后被修改过，须重新公示后才能村级备案")


def every_flag_noted(ctx: Context) -> None:
    noted = sa.select(EntryNote.id).where(EntryNote.entry_id == EntryFlag.entry_id,
                                          EntryNote.round == ctx.filing.round)
    missing = db.session.scalar(sa.select(sa.func.count(sa.distinct(EntryFlag.entry_id)))
                                .where(EntryFlag.filing_id == ctx.filing.id, ~sa.exists(noted)))
    if missing:
        raise InvalidTransition(f"还有 {missing} 户有风险提示但没有审核意见；请逐户填写意见后再审核通过")


def approved_total(project_id: int, except_filing: int | None = None):
    """Money already approved by the county for the project (审定 or paid filings)."""
    stmt = (sa.select(sa.func.coalesce(sa.func.sum(Entry.amount), 0)).join(Filing, Filing.id == Entry.filing_id)
            .where(Filing.project_id == project_id, Filing.state.in_([S.county_approved, S.paid])))
    if except_filing is not None:
        stmt = stmt.where(Filing.id != except_filing)
    return quantize(db.session.scalar(stmt))


def filing_total(filing_id: int):
    return quantize(db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(Entry.amount), 0))
                                      .where(Entry.filing_id == filing_id)))


def within_budget(ctx: Context) -> None:
    project = ctx.filing.project
    # Serialise 审定 of one project's filings, so two at once cannot both fit the same money.
    db.session.execute(sa.select(Project.id).where(Project.id == project.id).with_for_update())
    approved = approved_total(project.id, except_filing=ctx.filing.id)
    this = filing_total(ctx.filing.id)
    ctx.detail.update(budget=project.budget, approved_before=approved, amount=this)
    if approved + this > project.budget:
        raise InvalidTransition(
            f"超出项目预算，不能审定：预算 {fmt(project.budget)} 元，已审定 {fmt(approved)} 元，"
            f"本批 {fmt(this)} 元，超出 {fmt(approved + this - project.budget)} 元")


# --- effects ------------------------------------------------------------------------------

def start_publicity(ctx: Context) -> None:
    f = ctx.filing
    f.round = (f.round or 0) + 1
    f.publicized_at = ctx.now
    # The publicity period: the project's publicity_days calendar days from this moment.
    f.publicity_ends_at = ctx.now + timedelta(days=f.project.publicity_days)
    f.list_changed = False
    db.session.flush()


def notify_households(ctx: Context) -> None:
    """审定: one SMS owed to every household of the filing, in this transaction. Keyed by
    filing and entry, so nothing can ever owe a second message for the same approval. One
    INSERT … SELECT: the database renders the 5,000 bodies of a large filing itself."""
    from subsidy.notify.outbox import enqueue_select

    f = ctx.filing
    rows = (sa.select((sa.literal(f"filing_approved:{f.id}:", sa.String) + sa.cast(Entry.id, sa.String)).label("key"),
                      Household.phone.label("phone"), sa.literal(f.region_code, sa.String).label("region_code"),
                      Entry.household_id.label("household_id"), Entry.id.label("entry_id"),
                      Household.head_name.label("name"), snapshots.two_decimals(Entry.amount).label("amount"))
            .join(Household, Household.id == Entry.household_id).where(Entry.filing_id == f.id))
    ctx.detail["sms_enqueued"] = enqueue_select("filing_approved", rows, signature_region=f.region_code,
                                                constants={"project": f.project.name})


# --- the table ----------------------------------------------------------------------------

TABLE: dict[tuple[FilingState, Action], Transition] = {(t.source, t.action): t for t in [
    Transition(S.draft, Action.publicize, (S.publicizing,), Role.village_clerk, Level.village,
               guards=(has_entries,), prepare=(start_publicity,), stage=Stage.publicized, recheck=True),
    Transition(S.publicizing, Action.withdraw, (S.draft,), Role.village_clerk, Level.village, reason=True),
    Transition(S.publicizing, Action.submit, (S.village_filed,), Role.village_clerk, Level.village,
               guards=(publicity_over, no_open_objection, list_unchanged), stage=Stage.village,
               must_equal_publicized=True, recheck=True),
    Transition(S.village_filed, Action.approve, (S.township_approved,), Role.township_reviewer, Level.township,
               recheck=True, guards=(every_flag_noted,), stage=Stage.township, must_equal_publicized=True),
    Transition(S.village_filed, Action.return_, (S.draft,), Role.township_reviewer, Level.township, reason=True),
    Transition(S.township_approved, Action.approve, (S.county_approved,), Role.county_reviewer, Level.county,
               recheck=True, guards=(within_budget,), stage=Stage.county, must_equal_publicized=True,
               effects=(notify_households,)),
    Transition(S.township_approved, Action.return_, (S.village_filed, S.draft), Role.county_reviewer, Level.county,
               reason=True),
    Transition(S.county_approved, Action.pay, (S.paid,), Role.county_reviewer, Level.county, stage=Stage.paid,
               internal=True),
]}

PUBLIC_ACTIONS = frozenset(a for (_, a), t in TABLE.items() if not t.internal)
# `to` of the county's return: a state, or the tier it goes back to.
TO_ALIASES = {"township": S.village_filed, "village": S.draft}
TO_LABEL = {S.village_filed: "退回乡镇", S.draft: "退回村级"}


def parse_action(action: str | Action) -> Action:
    try:
        return action if isinstance(action, Action) else Action(action)
    except ValueError:
        raise ValidationError(f"不认识的操作“{action}”", fields={"action": "应为 publicize、withdraw、submit、"
                                                                       "approve 或 return"}) from None


def _parse_to(t: Transition, to) -> FilingState:
    if to in (None, ""):
        if len(t.targets) > 1:
            raise ValidationError("请选择退回到哪一级", fields={"to": "退回乡镇（village_filed）或退回村级（draft）"})
        return t.targets[0]
    try:
        state = TO_ALIASES.get(to) or (to if isinstance(to, FilingState) else FilingState(to))
    except ValueError:
        state = None
    if state not in t.targets:
        allowed = "、".join(s.value for s in t.targets)
        raise ValidationError("退回去向不正确", fields={"to": f"应为 {allowed}"})
    return state


def allowed_for(actor, t: Transition, filing: Filing) -> bool:
    return (actor is not None and actor.role == t.role and actor.tier == t.tier
            and covers(actor.region_code, filing.region_code))


def available_actions(actor, filing: Filing) -> list[Transition]:
    """The rows the actor may attempt now (for buttons); guards still decide."""
    return [t for (state, _), t in TABLE.items()
            if state == filing.state and not t.internal and allowed_for(actor, t, filing)]


def _refuse_state(filing: Filing, action: Action) -> InvalidTransition:
    return InvalidTransition(f"备案当前为“{STATE_LABEL[filing.state]}”，不能{ACTION_LABEL[action]}")


def _claim(filing: Filing, version: int, to: FilingState, now: datetime) -> None:
    result = db.session.execute(
        sa.update(Filing).where(Filing.id == filing.id, Filing.version == version)
        .values(state=to, version=Filing.version + 1, state_changed_at=now)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise StaleVersion("备案刚被他人处理过，您看到的已不是最新状态；请刷新页面后重试")
    db.session.expire(filing)


def perform(actor, filing_id: int, action, *, version, comment: str | None = None, reason: str | None = None,
            to=None, internal: bool = False) -> Filing:
    """Apply one row of the table to a filing on behalf of `actor`; see the module docstring."""
    action = parse_action(action)
    filing = db.session.get(Filing, filing_id)
    if filing is None or actor is None:
        raise NotFound("备案不存在")
    ensure_visible(actor, filing.region_code, "备案")
    # The version first: of several people acting on what they saw, the losers are told that
    # the filing moved on (409), never that they lack the role the new state would need.
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise ValidationError("缺少版本号", fields={"version": "请提交您看到的备案版本号"}) from None
    if version != filing.version:
        raise StaleVersion(f"备案已被他人处理（当前版本 {filing.version}，您看到的是 {version}）；请刷新页面后重试")
    t = TABLE.get((filing.state, action))
    if t is None or (t.internal and not internal):
        if action == Action.pay and not internal:
            raise InvalidTransition("发放状态由发放批次自动更新，不能手工操作")
        raise _refuse_state(filing, action)
    if actor.role != t.role:
        raise PermissionDenied(f"“{ACTION_LABEL[action]}”须由{ROLE_LABEL[t.role]}操作")
    if actor.tier != t.tier:
        raise PermissionDenied(f"“{ACTION_LABEL[action]}”须在{LEVEL_LABEL[t.tier]}级操作")
    text = (reason or "").strip() or (comment or "").strip()
    if t.reason and not text:
        label = "撤回" if action == Action.withdraw else "退回"
        raise ValidationError(f"请填写{label}原因", fields={"reason": f"{label}必须说明原因"})
    if len(text) > 2000:
        raise ValidationError("意见太长", fields={"comment": "不超过 2000 字"})
    to = _parse_to(t, to)

    now = utcnow()
    ctx = Context(filing, actor, t, to, filing.state, text, now)
    with db.session.begin_nested():  # a refusal below undoes the claim and everything after it
        _claim(filing, version, to, now)
        if t.recheck:
            ctx.detail["flags"] = risk.run_checks(filing)
        for guard in t.guards:
            guard(ctx)
        for step in t.prepare:
            step(ctx)
        if t.stage is not None:
            ctx.snapshot = snapshots.take_snapshot(filing, t.stage, actor)
            if t.must_equal_publicized:
                _check_against_publicized(filing, ctx.snapshot)
        for effect in t.effects:
            effect(ctx)
        _record(ctx)
    return filing


def _check_against_publicized(filing: Filing, snap: Snapshot) -> None:
    """DESIGN.md: the list a tier files must be the list the village publicized."""
    publicized = db.session.scalar(sa.select(Snapshot).where(
        Snapshot.filing_id == filing.id, Snapshot.round == filing.round, Snapshot.stage == Stage.publicized)
        .order_by(Snapshot.id.desc()).limit(1))
    if publicized is None:
        raise InvalidTransition("找不到本轮公示名单的快照，须重新公示")
    if publicized.digest != snap.digest:
        diff = snapshots.compare(snapshots.snapshot_lines(publicized.id), snapshots.snapshot_lines(snap.id))
        raise InvalidTransition(f"名单与公示名单不一致（{diff.summary() or '摘要不同'}），不能"
                                f"{ACTION_LABEL[Action.submit] if snap.stage == Stage.village else '审核通过'}；"
                                "请退回村级核实后重新公示")


def _record(ctx: Context) -> None:
    f, t = ctx.filing, ctx.transition
    review = Review(filing_id=f.id, tier=t.tier, action=t.action, actor_id=getattr(ctx.actor, "id", None),
                    actor_name=getattr(ctx.actor, "name", None) or getattr(ctx.actor, "username", "system"),
                    comment=ctx.comment, at=ctx.now, from_state=ctx.from_state, to_state=ctx.to, version=f.version)
    db.session.add(review)
    db.session.flush()
    detail = {"from_state": ctx.from_state.value, "to_state": ctx.to.value, "version": f.version,
              "project_id": f.project_id, **ctx.detail}
    if ctx.comment:
        detail["comment"] = ctx.comment
    if ctx.snapshot is not None:
        detail["snapshot"] = {"stage": ctx.snapshot.stage.value, "digest": ctx.snapshot.digest,
                              "entry_count": ctx.snapshot.entry_count, "total_amount": ctx.snapshot.total_amount}
    audit.record(ctx.actor, f"filing.{t.action.value}", "filing", f.id, region_code=f.region_code, **detail)
