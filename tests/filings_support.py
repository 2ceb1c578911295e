"""Shared set-up for the filing tests: a project, a village's households, one user per tier,
and helpers that move a filing through the workflow the way people do (services, real time
travel for the publicity period)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
import time_machine

from subsidy.extensions import db
from subsidy.filings import entries, service, workflow
from subsidy.filings.models import EntryFlag, Filing, FilingState
from tests.factories import HouseholdFactory, ProjectFactory, make_user

VILLAGE = "640425100201"


T0 = datetime(2017, 6, 1, 1, 0, tzinfo=UTC)
S = FilingState


@dataclass
class World:
    project: object
    households: list
    clerk: object
    township: object
    county: object
    filing: Filing


def make_world(n: int = 3, village: str = VILLAGE, **project_kw) -> World:
    project = ProjectFactory(**project_kw)
    households = [HouseholdFactory(region_code=village) for _ in range(n)]
    clerk = make_user("village_clerk", village)
    township = make_user("township_reviewer", village[:9])
    county = make_user("county_reviewer", village[:6])
    with time_machine.travel(T0 - timedelta(days=1), tick=False):
        filing = service.start_filing(clerk, project.id)
        for h in households:
            entries.add_entry(clerk, filing.id, h.id)
    db.session.commit()
    return World(project, households, clerk, township, county, filing)


def act(actor, filing: Filing, action: str, at: datetime | None = None, **kw) -> Filing:
    """One transition, committed, at time `at` (default: just after the publicity period)."""
    at = at or (filing.publicity_ends_at + timedelta(minutes=1) if filing.publicity_ends_at else T0)
    with time_machine.travel(at, tick=False):
        result = workflow.perform(actor, filing.id, action, version=filing.version, **kw)
        db.session.commit()
    return result


def note_all_flags(actor, filing: Filing) -> None:
    ids = db.session.scalars(sa.select(sa.distinct(EntryFlag.entry_id)).where(EntryFlag.filing_id == filing.id)).all()
    for entry_id in ids:
        service.add_note(actor, filing.id, entry_id, "已入户核实")
    db.session.commit()


def walk_to(w: World, state: FilingState) -> Filing:
    """Move the world's (draft) filing forward along the happy path until it is in `state`."""
    f = w.filing
    path = [
        (S.publicizing, lambda: act(w.clerk, f, "publicize", at=T0)),
        (S.village_filed, lambda: act(w.clerk, f, "submit")),
        (S.township_approved, lambda: (note_all_flags(w.township, f), act(w.township, f, "approve"))),
        (S.county_approved, lambda: act(w.county, f, "approve")),
        (S.paid, lambda: act(w.county, f, "pay", internal=True)),
    ]
    order = [S.draft] + [target for target, _ in path]
    for target, step in path[order.index(f.state):]:
        if f.state == state:
            break
        step()
        assert f.state == target, (f.state, target)
    assert f.state == state
    return f
