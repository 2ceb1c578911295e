"""The cross-county checks over a whole city or province at once (`flask filings cross-county`).

The per-filing checks (`risk.check_other_county_account`/`_phone`) run at publicity and each
review, and mirror their flags onto the counterpart lists still under review. What they cannot
see is a pair whose two lists were both already past those moments when the second one arrived
in the other county's sight, e.g. a list publicized before its project was given a type. The
sweep finds every such pair in one set-based statement per kind over the region's entries, and
flags the entries of lists still under review that lack the flag (a flag already there stays, an
approved or paid list's record is closed and not rewritten, as in the per-filing check). Run
nightly from cron; idempotent."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from subsidy.audit import service as audit
from subsidy.common.database import upsert_insert
from subsidy.common.timeutil import utcnow
from subsidy.extensions import db
from subsidy.filings.models import Entry, EntryFlag, Filing, FilingState, FlagCode
from subsidy.filings.risk import _OTHER_COUNTY_TEXT, _UNDER_REVIEW
from subsidy.households.models import Household
from subsidy.projects.models import Project
from subsidy.regions.scope import within

KINDS = ((FlagCode.shared_account_other_county, "payout_account"), (FlagCode.shared_phone_other_county, "phone"))
# The county of a 12-digit village code: the rows' own county, in SQL (the regions' code scheme).
_COUNTY_WIDTH = 6


def _pairs(column: str, region_code: str | None):
    """(entry, its filing, how many households of other counties share the value) for every
    entry of a list under review in the region, in one statement: the same type and year, the
    other list past its draft and in another county (the other *list's* county: a household that
    moved and is listed by both counties is caught)."""
    e1, e2 = aliased(Entry), aliased(Entry)
    h1, h2 = aliased(Household), aliased(Household)
    f1, f2 = aliased(Filing), aliased(Filing)
    p1, p2 = aliased(Project), aliased(Project)
    mine, theirs = getattr(h1, column), getattr(h2, column)
    stmt = (sa.select(e1.id, e1.filing_id, sa.func.count(sa.distinct(h2.id)))
            .select_from(e1)
            .join(f1, f1.id == e1.filing_id).join(p1, p1.id == e1.project_id).join(h1, h1.id == e1.household_id)
            .join(h2, theirs == mine)
            .join(e2, e2.household_id == h2.id).join(f2, f2.id == e2.filing_id).join(p2, p2.id == e2.project_id)
            .where(f1.state.in_(_UNDER_REVIEW), mine.is_not(None), mine != "",
                   p1.subsidy_type_id.is_not(None), p2.subsidy_type_id == p1.subsidy_type_id, p2.year == p1.year,
                   f2.state != FilingState.draft,
                   sa.func.substr(f1.region_code, 1, _COUNTY_WIDTH) != sa.func.substr(f2.region_code, 1, _COUNTY_WIDTH))
            .group_by(e1.id, e1.filing_id))
    if region_code:
        stmt = stmt.where(within(f1.region_code, region_code))
    return db.session.execute(stmt).all()


def sweep(region_code: str | None = None) -> dict[str, int]:
    """Flag every cross-county pair in the region (every region without one); the number of
    entries found and of flags added, per kind. Audited once, as the system."""
    result: dict[str, int] = {}
    now = utcnow()
    for code, column in KINDS:
        pairs = _pairs(column, region_code)
        before = db.session.scalar(sa.select(sa.func.count()).select_from(EntryFlag).where(EntryFlag.code == code))
        if pairs:
            text = _OTHER_COUNTY_TEXT[code]
            db.session.execute(upsert_insert(EntryFlag).on_conflict_do_nothing(index_elements=["entry_id", "code"]), [
                {"filing_id": filing_id, "entry_id": entry_id, "code": code, "explanation": text.format(n=n),
                 "created_at": now} for entry_id, filing_id, n in pairs])
        after = db.session.scalar(sa.select(sa.func.count()).select_from(EntryFlag).where(EntryFlag.code == code))
        result[f"{code.value}_found"] = len(pairs)
        result[f"{code.value}_added"] = after - before
    audit.record(None, "filing.cross_county_sweep", "region", region_code or None, region_code=region_code or None,
                 **result)
    return result
