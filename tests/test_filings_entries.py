"""The village clerk's list: quantities from the register, amounts, add-all, and who may edit when."""
from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from subsidy.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationError
from subsidy.extensions import db
from subsidy.filings import entries, service
from subsidy.filings.models import Entry, FilingState
from subsidy.projects.models import Unit
from tests.factories import HouseholdFactory, ProjectFactory, make_user
from tests.filings_support import make_world, walk_to

V1, V2 = "640425100201", "640425100202"


def _entries(filing):
    return {e.household_id: (e.quantity, e.amount) for e in db.session.scalars(
        sa.select(Entry).where(Entry.filing_id == filing.id))}


@pytest.mark.parametrize(("unit", "expected"), [
    (Unit.mu, [Decimal("12.35"), Decimal("3.00")]),
    (Unit.person, [Decimal("5"), Decimal("1")]),
    (Unit.household, [Decimal("1"), Decimal("1")]),
    (Unit.head, [Decimal("1"), Decimal("1")]),
    (Unit.item, [Decimal("1"), Decimal("1")]),
])
def test_add_all_takes_quantity_from_the_register(county, unit, expected):
    project = ProjectFactory(unit=unit, rate=Decimal("10.05"))
    a = HouseholdFactory(region_code=V1, land_area_mu=Decimal("12.35"), members=5)
    b = HouseholdFactory(region_code=V1, land_area_mu=Decimal("3.00"), members=1)
    no_land = HouseholdFactory(region_code=V1, land_area_mu=Decimal("0"), members=2)
    HouseholdFactory(region_code=V2)  # another village: never added
    clerk = make_user("village_clerk", V1)
    filing = service.start_filing(clerk, project.id)
    summary = entries.add_all_households(clerk, filing.id)
    db.session.commit()
    got = _entries(filing)
    assert got[a.id][0] == expected[0] and got[b.id][0] == expected[1]
    for quantity, amount in got.values():
        assert amount == (project.rate * quantity).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    if unit == Unit.mu:
        assert got[a.id][1] == Decimal("124.12")  # 10.05 × 12.35 = 124.1175
        assert no_land.id not in got and summary["skipped_zero"] == 1 and summary["added"] == 2
    else:
        assert no_land.id in got and summary["added"] == 3
    # run again: nothing new, nothing doubled
    assert entries.add_all_households(clerk, filing.id)["added"] == 0


def test_add_all_leaves_out_households_listed_elsewhere_for_the_project(county):
    w = make_world(2)
    moved = w.households[0]
    moved.region_code = V2  # the household moved to the next village after it was listed
    HouseholdFactory(region_code=V2)
    db.session.commit()
    clerk2 = make_user("village_clerk", V2)
    f2 = service.start_filing(clerk2, w.project.id)
    summary = entries.add_all_households(clerk2, f2.id)
    assert (summary["added"], summary["skipped_listed"], summary["households"]) == (1, 1, 2)
    with pytest.raises(Conflict, match="白阳镇201村"):
        entries.add_entry(clerk2, f2.id, moved.id)


def test_amount_above_the_standard_is_accepted_and_flagged(county):
    w = make_world(1)
    entry_id = db.session.scalar(sa.select(Entry.id))
    entries.update_entry(w.clerk, w.filing.id, entry_id, amount="1400")
    db.session.commit()
    lines, _ = service.entry_lines(w.filing)
    assert lines[0]["entry"].amount == Decimal("1400.00")
    assert [f.code.value for f in lines[0]["flags"]] == ["amount_above_rate"]
    # changing the quantity alone recomputes the standard amount
    entries.update_entry(w.clerk, w.filing.id, entry_id, quantity="10")
    db.session.commit()
    lines, _ = service.entry_lines(w.filing)
    assert (lines[0]["entry"].quantity, lines[0]["entry"].amount, lines[0]["flags"]) == (
        Decimal("10.00"), Decimal("1050.00"), [])


def test_a_page_of_the_list_is_read_with_its_filters(county):
    """The review page reads one page of entries (their ids first, then their households),
    counted with the same filters, in entry order."""
    w = make_world(5)
    ids = list(db.session.scalars(sa.select(Entry.id).order_by(Entry.id)))
    owner = dict(db.session.execute(sa.select(Entry.id, Entry.household_id)).all())
    names = {h.id: h.head_name for h in w.households}
    for page, expect in ((1, ids[0:2]), (2, ids[2:4]), (3, ids[4:]), (4, [])):
        lines, total = service.entry_lines(w.filing, page=page, per_page=2)
        assert total == 5 and [x["entry"].id for x in lines] == expect
        assert all(x["household"].head_name == names[owner[x["entry"].id]] for x in lines)
    target = w.households[3]
    lines, total = service.entry_lines(w.filing, page=1, per_page=2, q=target.id_number)
    assert total == 1 and [x["entry"].household_id for x in lines] == [target.id]
    entries.update_entry(w.clerk, w.filing.id, ids[1], amount="99999")  # above the standard: flagged
    db.session.commit()
    lines, total = service.entry_lines(w.filing, page=1, per_page=2, flagged_only=True)
    assert total == 1 and [x["entry"].id for x in lines] == [ids[1]] and lines[0]["flags"]
    # the count the caller already has is used as it is, not counted again
    assert service.entry_lines(w.filing, page=1, per_page=2, total=99)[1] == 99


@pytest.mark.parametrize(("quantity", "amount", "field"), [("0", None, "quantity"), ("abc", None, "quantity"),
                                                     ("1.234", None, "quantity"), (None, "-1", "amount"),
                                                     (None, "1.001", "amount")])
def test_bad_numbers_are_refused_beside_the_field(county, quantity, amount, field):
    w = make_world(0)
    h = HouseholdFactory(region_code=V1)
    with pytest.raises(ValidationError) as exc:
        entries.add_entry(w.clerk, w.filing.id, h.id, quantity=quantity, amount=amount)
    assert field in exc.value.fields


def test_only_the_villages_clerk_edits_and_only_a_draft(county):
    w = make_world(2)
    entry_id = db.session.scalar(sa.select(Entry.id))
    h = HouseholdFactory(region_code=V1)
    db.session.commit()
    for role, region in (("township_reviewer", "640425100"), ("county_admin", "640425")):
        with pytest.raises(PermissionDenied):
            entries.add_entry(make_user(role, region), w.filing.id, h.id)
    with pytest.raises(NotFound):
        entries.delete_entry(make_user("village_clerk", V2), w.filing.id, entry_id)
    colleague = make_user("village_clerk", V1)  # a second clerk of the same village may
    entries.add_entry(colleague, w.filing.id, h.id)
    db.session.commit()
    walk_to(w, FilingState.publicizing)
    with pytest.raises(InvalidTransition, match="草稿"):
        entries.update_entry(w.clerk, w.filing.id, entry_id, amount="1")
    with pytest.raises(InvalidTransition):
        entries.add_all_households(w.clerk, w.filing.id)
    with pytest.raises(PermissionDenied):
        service.start_filing(make_user("township_reviewer", "640425100"), w.project.id)


def test_queue_and_lists_are_one_query_whatever_their_size(county, db):
    """待我审核 is one aggregated statement: the count of statements does not grow with rows."""
    from sqlalchemy import event

    township = make_user("township_reviewer", "640425100")

    def filed(n):
        for village in (V1, V2):
            w = make_world(n, village=village)
            walk_to(w, FilingState.village_filed)

    def count_statements(fn):
        seen = []
        listener = lambda *a, **k: seen.append(1)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            result = fn()
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(seen), result

    filed(1)
    assert township.tier  # loaded before counting: only the queue's own statements are counted
    small, page = count_statements(lambda: service.review_queue(township))
    rows = page.items
    assert len(rows) == 2 and page.total == 2
    assert rows[0].state_changed_at <= rows[1].state_changed_at
    assert (rows[0].households, rows[0].total_amount, rows[0].flags) == (1, Decimal("1312.50"), 0)
    filed(3)  # two more filings (a new project each), three households each
    assert township.tier
    large, page = count_statements(lambda: service.review_queue(township))
    rows = page.items
    assert len(rows) == 4 and sorted(r.households for r in rows) == [1, 1, 3, 3]
    assert small == large == 2  # the count and the page, whatever the size
    # A page of the queue: the oldest first, the aggregates of that page's filings only.
    first, second = service.review_queue(township, per_page=3), service.review_queue(township, page=2, per_page=3)
    assert (first.total, first.pages, len(first.items), len(second.items)) == (4, 2, 3, 1)
    assert [r.id for r in first.items + second.items] == [r.id for r in rows]
    assert [r.households for r in first.items + second.items] == [r.households for r in rows]
