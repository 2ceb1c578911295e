"""Benefit policies (惠民政策): the county admin writes, previews, publishes and withdraws the
county's, the city admin the city-wide ones; every tier reads them; farmers read the published
ones on the mobile pages.

A policy applies to one region (the city, a county, a township or a village) and so to every
household under it. `county_code` is the writing unit (a county, or the city: 6404): only that
unit changes it; a county's staff read their county's policies and the published ones the city
wrote for them, never the city's drafts. The only code that changes `Policy.status` is
`_transition`, driven by `MACHINE` (one engine for every table: `subsidy.common.statemachine`;
docs/architecture.md shows them):

    draft ──publish──▶ published ──withdraw──▶ withdrawn
    draft ──edit (the state stays)"""
from __future__ import annotations

import contextlib
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from subsidy.accounts.permissions import Perm, can, exempt, require, requires
from subsidy.audit import service as audit
from subsidy.common.pagination import Page, paginate
from subsidy.common.statemachine import Machine, Rule
from subsidy.common.text import clean_multiline, has_forbidden, invisible_message
from subsidy.common.timeutil import CHINA_TZ, utcnow
from subsidy.errors import InvalidTransition, NotFound, PermissionDenied, StaleVersion, ValidationError
from subsidy.extensions import db
from subsidy.policies.models import Policy, PolicyAction, PolicyCategory, PolicyStatus
from subsidy.regions.models import CODE_LENGTH, Level, Region
from subsidy.regions.scope import ancestors, county_scope, covers, normalize_code, within
from subsidy.regions.service import county_only_code

TITLE_MAX = 120
BODY_MAX = 100_000
REASON_MAX = 500

S, A = PolicyStatus, PolicyAction
MACHINE = Machine("policy", state=Policy.status, noun="政策", rules=[
    # What farmers have read is never rewritten behind them: only a draft changes.
    Rule(A.edit, (S.draft,), None, perm=Perm.manage_policies),
    Rule(A.publish, (S.draft,), S.published, perm=Perm.manage_policies),
    Rule(A.withdraw, (S.published,), S.withdrawn, perm=Perm.manage_policies),
])
# How a page or the API is told that the table has no row for the policy's state.
REFUSAL = {A.edit: "政策{state}，不能再修改；如需更正，请撤回后另写一条新政策发布"}


# --- validation ------------------------------------------------------------------------------

def _to_date(value, field: str, fields: dict) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        fields[field] = "日期格式应为 2017-03-01"
        return None


def _validate(actor, data: dict) -> dict:
    fields: dict[str, str] = {}
    out: dict = {}
    title = (data.get("title") or "").strip()
    if not title:
        fields["title"] = "请填写政策标题"
    elif has_forbidden(title):
        fields["title"] = invisible_message("标题")
    elif len(title) > TITLE_MAX:
        fields["title"] = f"标题不超过 {TITLE_MAX} 字"
    out["title"] = title
    body = clean_multiline(data.get("body"))
    if not body:
        fields["body"] = "请填写政策原文"
    elif len(body) > BODY_MAX:
        fields["body"] = "正文太长"
    out["body"] = body
    interpretation = clean_multiline(data.get("interpretation"))
    if len(interpretation) > BODY_MAX:
        fields["interpretation"] = "解读太长"
    out["interpretation"] = interpretation
    try:
        out["category"] = PolicyCategory(data.get("category") or PolicyCategory.other.value)
    except ValueError:
        fields["category"] = "类别不在允许范围内"
    unit = writing_unit(actor)
    code = data.get("region_code") or unit
    try:
        code = normalize_code(code)
        if db.session.get(Region, code) is None:
            fields["region_code"] = "行政区划不存在"
        elif not covers(unit, code):
            fields["region_code"] = ("只能为本市及以下区划发布政策" if len(unit) < CODE_LENGTH[Level.county]
                                     else "只能为本县及以下区划发布政策")
    except ValidationError:
        fields["region_code"] = "行政区划代码格式不正确"
    out["region_code"] = code
    out["effective_from"] = _to_date(data.get("effective_from"), "effective_from", fields)
    out["effective_to"] = _to_date(data.get("effective_to"), "effective_to", fields)
    if out["effective_from"] and out["effective_to"] and out["effective_to"] < out["effective_from"]:
        fields["effective_to"] = "失效日期不能早于生效日期"
    if fields:
        raise ValidationError("政策信息有误", fields=fields)
    return out


# --- staff: write, read ------------------------------------------------------------------------

@exempt("a check itself: the permission is declared by each writer that calls it")
def writing_unit(actor) -> str:
    """The unit a policy is written by: the city admin's city, else the county admin's county
    (403 for anyone else, through county_only_code)."""
    if len(actor.region_code) == CODE_LENGTH[Level.prefecture]:
        return actor.region_code
    return county_only_code(actor)


@exempt("a check itself: the permission is declared by each writer that calls it")
def ensure_writer(actor, policy: Policy) -> None:
    """Only the unit that wrote a policy changes it: a county's staff read the city's policies
    but cannot edit, publish or withdraw them, and the city does not rewrite a county's."""
    if policy.county_code != actor.region_code:
        raise PermissionDenied("该政策由其他单位发布，只能由发布单位修改、发布或撤回")


def _readable(actor):
    """SQL: the policies staff at `actor`'s region read — written in their range (the county's,
    or every county's and the city's for a city user), or published by a unit above it for a
    region that concerns them (a city-wide policy, or one the city wrote for their county)."""
    scope = county_scope(actor.region_code)
    above = ancestors(scope)
    return sa.or_(within(Policy.county_code, scope),
                  sa.and_(Policy.county_code.in_(above), Policy.status != PolicyStatus.draft,
                          applies_to(scope)))


def _may_read(actor, policy: Policy) -> bool:
    """Python twin of `_readable` for one loaded policy."""
    scope = county_scope(actor.region_code)
    if covers(scope, policy.county_code):
        return True
    return (policy.county_code in ancestors(scope) and policy.status is not PolicyStatus.draft
            and (scope.startswith(policy.region_code) or policy.region_code.startswith(scope)))


@requires(Perm.manage_policies)
def check_may_write(actor, policy: Policy | None = None) -> None:
    """The policy form's door: the declared permission, and for an existing policy its writing
    unit (a county admin opens a city policy to read it, never its edit or publish page)."""
    if policy is not None:
        ensure_writer(actor, policy)


@requires(Perm.manage_policies)
def create_policy(actor, **data) -> Policy:
    """A new draft by the admin's unit, the county or the city (docs/api.md POST /policies)."""
    values = _validate(actor, data)
    policy = Policy(county_code=writing_unit(actor), created_by=actor.id, status=PolicyStatus.draft,
                    **values)
    db.session.add(policy)
    db.session.flush()
    audit.record(actor, "policy.create", "policy", policy.id, region_code=policy.region_code,
                 title=policy.title, category=policy.category)
    return policy


@requires(Perm.manage_policies)
def update_policy(actor, policy_id: int, **data) -> Policy:
    """Only a draft can change (the table's `edit` row): what farmers have read is never
    rewritten behind them. The changed fields are claimed with the draft state, so a policy
    published meanwhile is not edited after all."""
    policy = get_policy(actor, policy_id)
    rule_for(actor, policy, A.edit)
    values = _validate(actor, data)
    changed = sorted(k for k, v in values.items() if getattr(policy, k) != v)
    if changed:
        _transition(actor, policy, A.edit, **{k: values[k] for k in changed})
        audit.record(actor, "policy.update", "policy", policy.id, region_code=policy.region_code, changed=changed)
    return policy


@requires(Perm.view_policies)
def get_policy(actor, policy_id: int) -> Policy:
    """A policy the actor reads (`_readable`; 404 otherwise, as for every object out of scope).
    Not `get_visible`: a policy is read by every tier of its county, not only above its region,
    and a published city policy by the counties it concerns."""
    policy = db.session.get(Policy, policy_id)
    if policy is None or not _may_read(actor, policy):
        raise NotFound("政策不存在")
    return policy


@requires(Perm.view_policies)
def list_policies(actor, *, status: str | None = None, q: str | None = None, page=1, per_page=50) -> Page:
    stmt = sa.select(Policy).where(_readable(actor))
    if status:
        try:
            stmt = stmt.where(Policy.status == PolicyStatus(status))
        except ValueError:
            raise ValidationError("状态不在允许范围内",
                                  fields={"status": "应为 draft、published 或 withdrawn"}) from None
    if q:
        stmt = stmt.where(Policy.title.contains(q.strip(), autoescape=True))
    order = sa.func.coalesce(Policy.published_at, Policy.updated_at)
    return paginate(stmt.order_by(order.desc(), Policy.id.desc()), page, per_page)


@requires(Perm.view_policies)
def status_counts(actor) -> dict[str, int]:
    rows = db.session.execute(sa.select(Policy.status, sa.func.count()).where(
        _readable(actor)).group_by(Policy.status)).all()
    counts = {s.value: 0 for s in PolicyStatus}
    counts.update({status.value: n for status, n in rows})
    return counts


# --- the transition table ----------------------------------------------------------------------

@exempt("a check itself: the row of the table for the policy's state, with the row's permission")
def rule_for(actor, policy: Policy, action: PolicyAction) -> Rule:
    """The row of MACHINE for the policy's state and `action` (409 if there is none) that
    `actor` may take (403 otherwise: the permission, or another unit's policy)."""
    ensure_writer(actor, policy)
    rule = MACHINE.rule(policy.status, action)
    if rule is None:
        text = REFUSAL.get(action, "政策{state}，不能{action}")
        raise InvalidTransition(text.format(state=policy.status.label, action=action.label))
    MACHINE.authorize(actor, rule)
    return rule


@exempt("a question, not an act: the actions the table lets this actor take now (a page's buttons)")
def available_actions(actor, policy: Policy) -> set[str]:
    """The values of the actions `actor` may take on `policy` in its state."""
    if not can_preview(actor, policy) or policy.county_code != actor.region_code:
        return set()
    return {rule.action.value for rule in MACHINE.actions_for(actor, policy.status)}


def _transition(actor, policy: Policy, action: PolicyAction, **values) -> PolicyStatus:
    """Apply one row of MACHINE with the fields that go with it, in one conditional UPDATE:
    of two admins pressing the button at once, exactly one wins (the other gets 409)."""
    rule = rule_for(actor, policy, action)
    source = policy.status
    values["updated_at"] = utcnow()
    try:
        MACHINE.claim(policy.id, rule, source=source, values=values, stale="状态已被他人修改，请刷新后重试")
    except StaleVersion as exc:
        raise InvalidTransition(exc.message) from None
    target = rule.target_from(source)
    for key, value in {**values, "status": target}.items():
        set_committed_value(policy, key, value)
    return target


@requires(Perm.manage_policies)
def publish_policy(actor, policy_id: int, *, broadcast_body: str | None = None) -> tuple[Policy, dict | None]:
    """Publish a draft (date and publisher recorded). With `broadcast_body`, also owe every
    household the policy applies to an SMS through the notification service; returns what was
    queued ({"messages", "segments_each", ...}) or None."""
    policy = get_policy(actor, policy_id)
    from_status = policy.status
    broadcast_body = (broadcast_body or "").strip()
    if broadcast_body:
        require(actor, Perm.broadcast_sms)
    _transition(actor, policy, A.publish, published_at=utcnow(), published_by=actor.id)
    audit.record(actor, "policy.publish", "policy", policy.id, region_code=policy.region_code,
                 from_status=from_status, to_status=policy.status, broadcast=bool(broadcast_body))
    sent = None
    if broadcast_body:
        from subsidy.policies import broadcast

        sent = broadcast.send(actor, policy, broadcast_body)
    return policy, sent


@requires(Perm.manage_policies)
def withdraw_policy(actor, policy_id: int, reason: str) -> Policy:
    policy = get_policy(actor, policy_id)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("请填写撤回原因", fields={"reason": "请填写撤回原因"})
    if len(reason) > REASON_MAX:
        raise ValidationError("撤回原因太长", fields={"reason": f"不超过 {REASON_MAX} 字"})
    from_status = policy.status
    _transition(actor, policy, A.withdraw, withdrawn_at=utcnow(), withdrawn_by=actor.id, withdrawn_reason=reason)
    audit.record(actor, "policy.withdraw", "policy", policy.id, region_code=policy.region_code,
                 from_status=from_status, to_status=policy.status, reason=reason)
    return policy


# --- public reading (no actor: farmers) --------------------------------------------------------

def applies_to(code: str):
    """SQL condition: the policy applies to region `code` — it was written for that region, a
    region above it (a county-wide policy reaches every village) or a region under it (a
    township's farmers see what concerns their villages)."""
    return sa.or_(Policy.region_code.in_(ancestors(code)), within(Policy.region_code, code))


def _visible_now():
    return Policy.status == PolicyStatus.published


def list_public(region_code: str, *, category: str | None = None, q: str | None = None,
                page=1, per_page=20) -> Page:
    """Published policies that apply to a region, newest first (the farmers' list)."""
    code = normalize_code(region_code)
    stmt = sa.select(Policy).where(_visible_now(), applies_to(code))
    if category:
        with contextlib.suppress(ValueError):  # an old link with a category that no longer exists: show them all
            stmt = stmt.where(Policy.category == PolicyCategory(category))
    if q and q.strip():
        term = q.strip()[:40]
        stmt = stmt.where(sa.or_(Policy.title.contains(term, autoescape=True),
                                 Policy.body.contains(term, autoescape=True),
                                 Policy.interpretation.contains(term, autoescape=True)))
    return paginate(stmt.order_by(Policy.published_at.desc(), Policy.id.desc()), page, per_page, default=20)


def latest_public(region_code: str, limit: int = 5) -> list[Policy]:
    return list_public(region_code, per_page=limit).items


def public_category_counts(region_code: str) -> dict[str, int]:
    code = normalize_code(region_code)
    rows = db.session.execute(sa.select(Policy.category, sa.func.count()).where(_visible_now(), applies_to(code))
                              .group_by(Policy.category)).all()
    return {cat.value: n for cat, n in rows}


def get_public(policy_id: int) -> Policy:
    """A policy a farmer may open: published, or withdrawn (shown as a notice, without its
    text, so a QR code printed for it still explains itself). Drafts do not exist for them."""
    policy = db.session.get(Policy, policy_id)
    if policy is None or policy.status is PolicyStatus.draft:
        raise NotFound("政策不存在或尚未发布")
    return policy


@exempt("a question, not an act: whether the actor may open a draft, asked by pages and files")
def can_preview(actor, policy: Policy) -> bool:
    """Staff who read the policy (`_may_read`: a draft only in the writing unit's range) may open
    it before it is published (preview) and its attachments."""
    return can(actor, Perm.view_policies) and _may_read(actor, policy)


# --- figures for /stats/summary ----------------------------------------------------------------

def _year_bounds(year: int) -> tuple[datetime, datetime]:
    start = datetime(year, 1, 1, tzinfo=CHINA_TZ)
    end = datetime(year + 1, 1, 1, tzinfo=CHINA_TZ)
    return start, end


def policies_published_by_region(code: str, year: int, children: list[str]) -> dict[str, int]:
    """`policies_published` of every region in `children` (all under `code`), from one query:
    the policies counted per region they were written for, then for each child the ones
    written for a region above it plus those written for it or under it — `applies_to`'s rule."""
    start, end = _year_bounds(year)
    written = db.session.execute(
        sa.select(Policy.region_code, sa.func.count()).where(
            Policy.status.in_([PolicyStatus.published, PolicyStatus.withdrawn]),
            Policy.published_at >= start, Policy.published_at < end, applies_to(code))
        .group_by(Policy.region_code)).all()
    under: dict[str, int] = {}  # region -> policies written for it or under it
    for region, n in written:
        for prefix in (*ancestors(region), region):
            under[prefix] = under.get(prefix, 0) + n
    exact = dict(written)
    return {child: under.get(child, 0) + sum(exact.get(above, 0) for above in ancestors(child))
            for child in children}


def policies_published(region_code: str, year: int) -> int:
    """docs/api.md `policies_published`: policies published in `year` (China time) that apply to
    `region_code` — written for that region, for a region above it or for one under it (see
    `applies_to`). A policy withdrawn later still counts for the year it was published in: it
    was published, and a withdrawn policy is never published again, so nothing counts twice."""
    code = normalize_code(region_code)
    start, end = _year_bounds(year)
    return db.session.scalar(sa.select(sa.func.count()).select_from(Policy).where(
        Policy.status.in_([PolicyStatus.published, PolicyStatus.withdrawn]),
        Policy.published_at >= start, Policy.published_at < end, applies_to(code)))
