"""核销 of goods a household will never collect (docs/design.md "Material subsidies").

An entry of a county-approved material list whose household moved away, refused the goods or
died is settled by a write-off instead of a pickup: a county reviewer proposes it with the
reason, and another county reviewer or a supervisor approves it (the two-person write-off of
subsidy.recoveries, kind `material`). It covers what the household has not picked up; its amount
is those goods' value at the project's unit price (0 without one). From the proposal on, the
entry takes no pickup; once approved it counts as done, and the list may reach 发放完毕.
"""
from __future__ import annotations

from subsidy.accounts.permissions import Perm, requires
from subsidy.common.money import quantize
from subsidy.errors import Conflict, NotFound, PermissionDenied
from subsidy.extensions import db
from subsidy.filings.models import Entry, Filing, FilingState
from subsidy.materials import service
from subsidy.recoveries import service as recoveries
from subsidy.recoveries.models import WriteOff, WriteOffKind
from subsidy.regions.models import Level
from subsidy.regions.scope import get_visible

# What a clerk most often writes; any other reason may be typed.
COMMON_REASONS = ("户已迁出", "农户拒绝领取", "户主已去世，无人继承领取")


@requires(Perm.manage_recoveries)
def propose_material_write_off(actor, filing_id, entry_id, reason) -> WriteOff:
    """Propose writing off what an entry has not picked up (county reviewer)."""
    if actor.tier != Level.county:
        raise PermissionDenied("实物核销由县级审核员提出")
    filing = get_visible(actor, Filing, filing_id, "备案")
    entry = db.session.get(Entry, entry_id) if str(entry_id or "").isdigit() else None
    if entry is None or entry.filing_id != filing.id:
        raise NotFound("名单中没有这一户")
    project = service.material(filing.project)
    text = recoveries.reason_text(reason)
    if filing.state != FilingState.county_approved:
        raise Conflict(f"备案{filing.state.label}，县级审定后、发放完毕前才能核销实物", code="invalid_transition")
    due = service.quantity_due(project, entry)
    left = due - service.picked([entry.id]).get(entry.id, service.ZERO)
    if left <= 0:
        raise Conflict("该户已领完，无需核销", code="invalid_transition")
    value = quantize(left * project.unit_price) if project.unit_price else service.ZERO
    return recoveries.propose(actor, WriteOffKind.material, amount=value, quantity=left, reason=text,
                              region_code=filing.region_code, entry_id=entry.id)


def describe(write_offs) -> dict[int, dict]:
    """{write-off id: {filing_id, goods}} for the material ones of a page of write-offs (one
    query): the approval list links each to its distribution page and says what goods."""
    import sqlalchemy as sa

    from subsidy.common.money import fmt
    from subsidy.projects.models import Project

    mine = {w.entry_id: w for w in write_offs if w.kind == WriteOffKind.material}
    if not mine:
        return {}
    rows = db.session.execute(sa.select(Entry.id, Entry.filing_id, Project.item, Project.item_unit)
                              .join(Project, Project.id == Entry.project_id).where(Entry.id.in_(mine))).all()
    return {mine[e].id: {"filing_id": f, "goods": f"{fmt(mine[e].quantity)} {unit or ''}{item or ''}"}
            for e, f, item, unit in rows}
