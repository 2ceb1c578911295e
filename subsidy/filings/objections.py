"""Open objections (异议) against a filing: the guard "no open objection" of 村级备案, and the
objections shown on the filing's page beside the entries they object to.

Objections are cases of kind `objection` on a filing's entries; the cases area
owns the rule of what "open" means."""
from __future__ import annotations

from types import SimpleNamespace

import sqlalchemy as sa

from subsidy.accounts.permissions import Perm, can, requires
from subsidy.extensions import db


def open_objection_refs(filing) -> list[str]:
    """The reference numbers of the filing's open objections (received but not yet replied to
    or closed), oldest first."""
    # Imported here: the cases area depends on filings' models, not the other way round.
    from subsidy.cases.service import open_objection_refs as refs

    return refs(filing.id)


@requires(Perm.view_filings)
def objections_on(actor, filing) -> dict:
    """The filing's objections for its page: `rows` (each with its case, household name and
    whether the actor may open the case), `by_entry` (entry id → rows), and the counts
    `open` and `total` (docs/design.md "Cases", objections and filings)."""
    from subsidy.cases.queries import is_visible
    from subsidy.cases.service import objections_for_filing
    from subsidy.filings.models import Entry
    from subsidy.households.models import Household

    cases = objections_for_filing(filing.id)
    if not cases:
        return {"rows": [], "by_entry": {}, "open": 0, "total": 0}
    names = {r.id: r for r in db.session.execute(
        sa.select(Entry.id, Household.head_name, Household.id_number)
        .join(Household, Household.id == Entry.household_id).where(Entry.id.in_({c.entry_id for c in cases})))}
    may_view = can(actor, Perm.view_cases)
    items, by_entry = [], {}
    for case in cases:
        row = names.get(case.entry_id)
        item = SimpleNamespace(case=case, entry_id=case.entry_id, head_name=row.head_name if row else "",
                               id_number=row.id_number if row else "",
                               is_open=case.is_open, linked=may_view and is_visible(actor, case))
        items.append(item)
        by_entry.setdefault(case.entry_id, []).append(item)
    return {"rows": items, "by_entry": by_entry, "open": sum(1 for i in items if i.is_open), "total": len(items)}
