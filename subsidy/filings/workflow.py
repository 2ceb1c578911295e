"""The state machine of a filing: the only code that changes `Filing.state`.

docs/design.md "Three-level filing and review" is the law; `MACHINE` below is that table, row by row
(one engine for every table: `subsidy.common.statemachine`; docs/architecture.md shows them).
Every transition, in this order:

1. finds the filing in the actor's region (else 404), checks the version the actor saw (else
   409 stale: of several acting at once, the losers hear that the filing moved on), the row
   for (state, action) (else 409), the actor's permission and tier (else 403) and the reason
   where the row wants one (else 400);
2. claims the transition with one conditional UPDATE (`… WHERE id = :id AND version = :v`):
   of two reviewers acting at once exactly one changes a row, the other gets StaleVersion (on
   PostgreSQL the second UPDATE waits for the first to commit, then matches nothing);
3. runs the row's guards and takes its snapshot; a refusal here undoes the claim (SAVEPOINT);
4. writes the review record and the audit event, and the row's effects (SMS: to the households
   at 审定, to the village clerks at a return to the village).
Services flush, never commit: the request (or command) commits once.

A row's `extra`: `reason` (a reason is required), `recheck` (rerun the risk checks first),
`prepare` (changes made before the snapshot: the publicity period), `stage` (the snapshot
taken), `must_equal_publicized` (the list must be the one the village publicized)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from subsidy.accounts.models import ROLE_LEVELS
from subsidy.accounts.permissions import Perm, exempt, holders
from subsidy.audit import service as audit
from subsidy.common.database import cents_to_money, lock_rows, regardless, two_decimals
from subsidy.common.money import fmt, quantize
from subsidy.common.statemachine import Machine, Rule
from subsidy.common.timeutil import to_local, utcnow
from subsidy.errors import InvalidTransition, NotFound, StaleVersion, ValidationError
from subsidy.extensions import db
from subsidy.filings import risk, snapshots
from subsidy.filings.models import Action, Entry, EntryFlag, EntryNote, Filing, FilingState, Review, Snapshot, Stage
from subsidy.filings.objections import open_objection_refs
from subsidy.households.models import Household
from subsidy.projects.amounts import standard_cents_sql
from subsidy.projects.models import Category, Project
from subsidy.regions.models import Level
from subsidy.regions.scope import covers, ensure_visible

S = FilingState


@dataclass
class Context:
    filing: Filing
    actor: object
    rule: Rule
    to: FilingState
    from_state: FilingState
    comment: str
    now: datetime
    snapshot: Snapshot | None = None
    detail: dict = field(default_factory=dict)


Guard = Callable[[Context], None]


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
    refs = open_objection_refs(ctx.filing)
    if refs:
        named = "、".join(refs[:5]) + (f" 等 {len(refs)} 件" if len(refs) > 5 else "")
        raise InvalidTransition(f"还有 {len(refs)} 件异议没有办结（{named}），办结后才能村级备案")


def list_unchanged(ctx: Context) -> None:
    if ctx.filing.list_changed:
        raise InvalidTransition("名单在公示后被修改过，须重新公示后才能村级备案")


def _unnoted(filing: Filing) -> list[str]:
    """Heads of the households whose entry has a risk flag and no note of this round."""
    noted = sa.select(EntryNote.id).where(EntryNote.entry_id == EntryFlag.entry_id, EntryNote.round == filing.round)
    return list(db.session.scalars(
        sa.select(Household.head_name).join(Entry, Entry.household_id == Household.id)
        .where(Entry.id.in_(sa.select(EntryFlag.entry_id).where(EntryFlag.filing_id == filing.id, ~sa.exists(noted))))
        .order_by(Entry.id)))


def every_flag_noted(ctx: Context) -> None:
    missing = _unnoted(ctx.filing)
    if missing:
        raise InvalidTransition(f"还有 {len(missing)} 户有风险提示但没有审核意见；请逐户填写意见后再审核通过")


def new_flags_noted(ctx: Context) -> None:
    """County approval (docs/design.md "Three-level filing and review"): a flag the county's
    re-check raised after the township's review (a watch list imported since, an account another
    household took) is answered with a note too. The re-check's flags are kept although the
    approval is refused, so the reviewer sees on the page which entries to answer."""
    missing = _unnoted(ctx.filing)
    if not missing:
        return
    filing_id = ctx.filing.id
    regardless(lambda: risk.run_checks(db.session.get(Filing, filing_id)))
    named = "、".join(missing[:5]) + (f" 等 {len(missing)} 户" if len(missing) > 5 else "")
    raise InvalidTransition(f"复核发现 {len(missing)} 户有风险提示但没有审核意见（{named}）；请逐户填写意见后再审定")


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
    db.session.execute(lock_rows(sa.select(Project.id).where(Project.id == project.id)))
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


def start_correction(ctx: Context) -> None:
    """发起更正: the list goes back to the village, to be corrected against the round approved."""
    ctx.filing.correction_of_round = ctx.filing.round
    db.session.flush()


def settle_correction(ctx: Context) -> None:
    """The county approved a correction: a paid entry removed or reduced owes back what was paid
    beyond its new amount (a recovery each, SMS to the household); what it raised is paid by the
    next batch (payments: only the difference). The filing is then an ordinary approved list."""
    f = ctx.filing
    if f.correction_of_round is None:
        return
    from subsidy.payments.models import Payment, PaymentStatus
    from subsidy.projects.amounts import cents
    from subsidy.recoveries import service as recoveries
    from subsidy.recoveries.models import Recovery

    # One grouped query finds the entries that owe something back (a paid 5,000-entry list
    # must not cost two look-ups per entry); only those are visited.
    paid = (sa.select(Payment.entry_id.label("entry_id"), sa.func.sum(Payment.amount).label("total"))
            .where(Payment.filing_id == f.id, Payment.status == PaymentStatus.paid)
            .group_by(Payment.entry_id).subquery())
    claimed = (sa.select(Recovery.entry_id.label("entry_id"), sa.func.sum(Recovery.amount_due).label("total"))
               .where(Recovery.filing_id == f.id).group_by(Recovery.entry_id).subquery())
    already = sa.func.coalesce(claimed.c.total, 0)
    rows = db.session.execute(
        sa.select(Entry, paid.c.total, already).join(paid, paid.c.entry_id == Entry.id)
        .outerjoin(claimed, claimed.c.entry_id == Entry.id)
        .where(cents(paid.c.total) > cents(Entry.amount) + cents(already)).order_by(Entry.id)).all()
    owed = []
    for entry, total, claimed_total in rows:
        excess = quantize(total) - entry.amount - quantize(claimed_total)
        owed.append(recoveries.record_for_correction(ctx.actor, f, entry, excess, ctx.comment))
    ctx.detail["recoveries"] = [r.id for r in owed]
    f.correction_of_round = None
    db.session.flush()


def notify_households(ctx: Context) -> None:
    """审定: one SMS owed to every household of the filing, in this transaction. Keyed by
    filing and entry, so nothing can ever owe a second message for the same approval. One
    INSERT … SELECT: the database renders the 5,000 bodies of a large filing itself. A
    correction's approval tells only the households it changed (keyed by its round)."""
    from subsidy.notify.outbox import enqueue_select

    f = ctx.filing
    prefix = f"filing_approved:{f.id}:"
    base = snapshots.correction_base(f)
    if base is not None:
        prefix = f"filing_approved:{f.id}:r{f.round}:"
    rows = (sa.select((sa.literal(prefix, sa.String) + sa.cast(Entry.id, sa.String)).label("key"),
                      Household.phone.label("phone"), sa.literal(f.region_code, sa.String).label("region_code"),
                      Entry.household_id.label("household_id"), Entry.id.label("entry_id"),
                      Household.head_name.label("name"), two_decimals(Entry.amount).label("amount"))
            .join(Household, Household.id == Entry.household_id).where(Entry.filing_id == f.id))
    template, constants = "filing_approved", {"project": f.project.name}
    if f.project.category == Category.material:
        # 实物补贴: the goods due, never money (docs/design.md "Material subsidies").
        due = standard_cents_sql(sa.literal(f.project.rate, Project.rate.type), Entry.quantity)
        rows = rows.add_columns(two_decimals(cents_to_money(due)).label("due"))
        template = "filing_approved_material"
        constants.update(item=f.project.item or "", item_unit=f.project.item_unit or "")
        from subsidy.materials.lists import get_list, sms_fields

        where = get_list(f.id)
        if where is not None:  # the village set where and when: say it now
            template = "filing_approved_material_place"
            constants.update(sms_fields(where))
    if base is not None:
        # A household the correction took off (amount 0) is told by its recovery's SMS instead;
        # a material entry's amount may be 0 without a price, so it is not a sign there.
        rows = rows.where(snapshots.corrected(base))
        if template == "filing_approved":
            rows = rows.where(Entry.amount > 0)
    ctx.detail["sms_enqueued"] = enqueue_select(template, rows, signature_region=f.region_code, constants=constants)


def notify_returned(ctx: Context) -> None:
    """A list returned to the village (退回村级): one SMS to each active village clerk of the
    village with a mobile number (`filing_returned`), keyed by the filing's new version so a
    later return sends again and a replay never does."""
    if ctx.to != S.draft:
        return
    from subsidy.accounts.models import Role, User
    from subsidy.notify.outbox import enqueue_bulk
    from subsidy.regions.models import Region

    f = ctx.filing
    unit = getattr(getattr(ctx.actor, "region", None), "name", None) or ctx.rule.tier.label
    clerks = db.session.execute(sa.select(User.id, User.phone).where(
        User.region_code == f.region_code, User.role == Role.village_clerk, User.active,
        User.phone.is_not(None), User.phone != "").order_by(User.id)).all()
    village = db.session.scalar(sa.select(Region.name).where(Region.code == f.region_code))
    reason = ctx.comment if len(ctx.comment) <= 30 else ctx.comment[:29] + "…"
    template = "filing_reopened" if ctx.rule.action == Action.reopen else "filing_returned"
    ctx.detail["sms_enqueued"] = enqueue_bulk(template, [
        {"key": f"{template}:{f.id}:{f.version}:{uid}", "phone": phone, "region_code": f.region_code,
         "context": {"village": village, "project": f.project.name, "by": str(unit), "reason": reason}}
        for uid, phone in clerks])


# --- the table ----------------------------------------------------------------------------

def _review(action: Action, sources, target, tier: Level, **kw) -> Rule:
    return Rule(action, sources, target, perm=Perm.review_filings, tier=tier, **kw)


def _village(action: Action, sources, target, **kw) -> Rule:
    return Rule(action, sources, target, perm=Perm.edit_filings, tier=Level.village, **kw)


MACHINE = Machine("filing", state=Filing.state, version=Filing.version, noun="备案", rules=[
    _village(Action.publicize, (S.draft,), S.publicizing, guards=(has_entries,),
             extra={"prepare": (start_publicity,), "stage": Stage.publicized, "recheck": True}),
    _village(Action.withdraw, (S.publicizing,), S.draft, extra={"reason": True}),
    _village(Action.submit, (S.publicizing,), S.village_filed,
             guards=(publicity_over, no_open_objection, list_unchanged),
             extra={"stage": Stage.village, "must_equal_publicized": True, "recheck": True}),
    _review(Action.approve, (S.village_filed,), S.township_approved, Level.township, guards=(every_flag_noted,),
            extra={"stage": Stage.township, "must_equal_publicized": True, "recheck": True}),
    _review(Action.return_, (S.village_filed,), S.draft, Level.township, effects=(notify_returned,),
            extra={"reason": True}),
    _review(Action.approve, (S.township_approved,), S.county_approved, Level.county,
            guards=(new_flags_noted, within_budget),
            effects=(notify_households, settle_correction),
            extra={"stage": Stage.county, "must_equal_publicized": True, "recheck": True}),
    _review(Action.return_, (S.township_approved,), (S.village_filed, S.draft), Level.county,
            effects=(notify_returned,), extra={"reason": True}),
    # 更正/补报: the county reopens an approved or paid list, with a reason; it is corrected,
    # publicized (only the changed lines), filed and reviewed again (docs/design.md
    # "Supervision with consequences").
    _review(Action.reopen, (S.county_approved, S.paid), S.draft, Level.county,
            effects=(start_correction, notify_returned), extra={"reason": True}),
    # Driven by the payments area when the last payment of the filing is answered.
    Rule(Action.pay, (S.county_approved,), S.paid, tier=Level.county, internal=True, extra={"stage": Stage.paid}),
])

PUBLIC_ACTIONS = frozenset(r.action for r in MACHINE.rules if not r.internal)
# `to` of the county's return: a state, or the tier it goes back to.
TO_ALIASES = {"township": S.village_filed, "village": S.draft}
# The order in which a list climbs the review tiers (the approvals, from the table).
REVIEW_ORDER = [s for r in MACHINE.rules_for(Action.approve) for s in r.sources]


def parse_action(action: str | Action) -> Action:
    try:
        return action if isinstance(action, Action) else Action(action)
    except ValueError:
        raise ValidationError(f"不认识的操作“{action}”", fields={"action": "应为 publicize、withdraw、submit、"
                                                                       "approve 或 return"}) from None


def _parse_to(rule: Rule, to) -> FilingState:
    if to in (None, ""):
        if len(rule.targets) > 1:
            raise ValidationError("请选择退回到哪一级", fields={"to": "退回乡镇（village_filed）或退回村级（draft）"})
        return rule.targets[0]
    try:
        state = TO_ALIASES.get(to) or (to if isinstance(to, FilingState) else FilingState(to))
    except ValueError:
        state = None
    if state not in rule.targets:
        allowed = "、".join(s.value for s in rule.targets)
        raise ValidationError("退回去向不正确", fields={"to": f"应为 {allowed}"})
    return state


@exempt("a question, not an act: the rules the table lets this actor take (their buttons)")
def available_actions(actor, filing: Filing) -> list[Rule]:
    """The rows the actor may attempt now (for buttons); guards still decide."""
    if not covers(actor.region_code, filing.region_code):
        return []
    return MACHINE.actions_for(actor, filing.state)


@exempt("a question, not an act: derived from the table for the actor's queue")
def waiting_states(actor) -> set[FilingState]:
    """The states in which a filing waits for `actor`'s tier (its 待我审核)."""
    return MACHINE.states_acting(actor, [Action.approve, Action.return_])


@exempt("a question, not an act: derived from the table for the actor's notes")
def note_states(actor) -> set[FilingState]:
    """When a reviewer may write notes on entries: while the list is under review at their tier
    or below it (a county reviewer may note what the township is still looking at)."""
    waiting = waiting_states(actor)
    reached = [i for i, state in enumerate(REVIEW_ORDER) if state in waiting]
    return set(REVIEW_ORDER[:reached[-1] + 1]) if reached else set()


def _who(rule: Rule) -> str:
    """The roles that take `rule`, for a refusal ("须由乡镇审核员操作")."""
    roles = [r for r in holders(rule.perm) if rule.tier is None or rule.tier in ROLE_LEVELS[r]] if rule.perm else []
    return "、".join(str(r.label) for r in roles) or "其他人员"


@exempt("each row of the table names its permission and tier, checked by MACHINE.authorize")
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
    if action == Action.pay and not internal:
        raise InvalidTransition("发放状态由发放批次自动更新，不能手工操作")
    rule = MACHINE.check(filing.state, action, internal=internal)
    if not internal:
        MACHINE.authorize(actor, rule, who=_who(rule))
    text = (reason or "").strip() or (comment or "").strip()
    if rule.extra.get("reason") and not text:
        label = {Action.withdraw: "撤回", Action.reopen: "更正"}.get(action, "退回")
        raise ValidationError(f"请填写{label}原因", fields={"reason": f"{label}必须说明原因"})
    if len(text) > 2000:
        raise ValidationError("意见太长", fields={"comment": "不超过 2000 字"})
    to = _parse_to(rule, to)

    now = utcnow()
    ctx = Context(filing, actor, rule, to, filing.state, text, now)
    with db.session.begin_nested():  # a refusal below undoes the claim and everything after it
        MACHINE.claim(filing.id, rule, source=filing.state, target=to, version=version,
                      values={"state_changed_at": now},
                      stale="刚被他人处理过，您看到的已不是最新状态；请刷新页面后重试")
        db.session.expire(filing)
        if rule.extra.get("recheck"):
            ctx.detail["flags"] = risk.run_checks(filing)
        for guard in rule.guards:
            guard(ctx)
        for step in rule.extra.get("prepare", ()):
            step(ctx)
        stage = rule.extra.get("stage")
        if stage is not None:
            ctx.snapshot = snapshots.take_snapshot(filing, stage, actor)
            if rule.extra.get("must_equal_publicized"):
                _check_against_publicized(filing, ctx.snapshot)
        for effect in rule.effects:
            effect(ctx)
        _record(ctx)
    return filing


def _check_against_publicized(filing: Filing, snap: Snapshot) -> None:
    """docs/design.md: the list a tier files must be the list the village publicized."""
    publicized = db.session.scalar(sa.select(Snapshot).where(
        Snapshot.filing_id == filing.id, Snapshot.round == filing.round, Snapshot.stage == Stage.publicized)
        .order_by(Snapshot.id.desc()).limit(1))
    if publicized is None:
        raise InvalidTransition("找不到本轮公示名单的快照，须重新公示")
    if publicized.digest != snap.digest:
        diff = snapshots.compare(snapshots.snapshot_lines(publicized.id), snapshots.snapshot_lines(snap.id))
        raise InvalidTransition(f"名单与公示名单不一致（{diff.summary() or '摘要不同'}），不能"
                                f"{Action.submit.label if snap.stage == Stage.village else '审核通过'}；"
                                "请退回村级核实后重新公示")


def _record(ctx: Context) -> None:
    f, t = ctx.filing, ctx.rule
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
