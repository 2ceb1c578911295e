"""The 实物发放 block (`materials` in `/stats/summary`, a block on the dashboard): how far the
goods of the year's material projects reached the households (docs/design.md "Material
subsidies").

An entry counts when it belongs to a county-approved or paid filing (FilingState.county_approved
or paid: before the county's approval nothing may be picked up) of a material project of the
year, and its goods due (rate × quantity, half up to 0.01, `subsidy.projects.amounts`) are above 0.

- entries_due: those entries, less the written-off and the held ones (below);
- entries_done: of entries_due, those whose pickups add up to at least their goods due;
- distribution_rate: entries_done / entries_due, a fraction to 3 decimals, null when nothing is
  due (the rate of every other block);
- entries_held: entries under an open hold (止付, EntryHold status held) that are not written
  off. They are out of entries_due, as they are out of the rule that closes a filing as 发放完毕
  (subsidy.materials.service): a held household may pick up nothing, so counting it due would
  hold the rate down for a check the county chose to make; a release brings it back;
- entries_written_off: entries with an approved material write-off (WriteOff kind material,
  state approved): goods the household will never collect, settled, so not due either; a
  proposed write-off still counts as due;
- goods: per project (item, unit), the goods due of entries_due's entries (`goods_due`) and what
  those entries picked up (`goods_handed_out`), quantities as strings, with the project's own
  entries_due, entries_done and rate. Goods of different items are never added together.

Stores (乡镇库存, dashboard only): per township and project, every delivery into the store
(`received`) and every pickup out of it (`distributed`, whatever became of the entry since), and
`on_hand` = received − distributed: the township's store as the stock page shows it, for the
year's material projects.

Money: a material filing's entries are worth their goods at the project's unit price (0 without
one). Its `county` snapshot counts in the approved money and, once it is paid (发放完毕), its
`paid` snapshot in the 已发放 money, exactly as a cash filing's (subsidy.stats.queries); goods
picked up before 发放完毕 show here, in quantities, not as money.

Each function answers with one query grouped by `substr(region_code, 1, width)` (and the
project), as subsidy.stats.queries does: the rows of a level and the per-project table add up
from the same few rows.
"""
from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from subsidy.common.money import fmt
from subsidy.extensions import db
from subsidy.payments.service import cents, from_cents
from subsidy.projects.amounts import standard_cents_sql
from subsidy.regions.scope import county_scope, covers, within

COUNT_KEYS = ("entries_due", "entries_done", "entries_held", "entries_written_off")
GOODS_KEYS = ("goods_due", "goods_handed_out")
ZERO = Decimal("0.00")


def rate(part, whole) -> float | None:
    # The same rounding as subsidy.stats.service.rate (imported from here, not from there: the
    # service imports this module).
    return round(part / whole, 3) if whole else None


def empty() -> dict:
    return {"entries_due": 0, "entries_done": 0, "entries_held": 0, "entries_written_off": 0,
            "goods_due": ZERO, "goods_handed_out": ZERO}


def add(into: dict, other: dict) -> dict:
    for key in COUNT_KEYS + GOODS_KEYS:
        into[key] += other[key]
    return into


def projects(code: str, year: int) -> dict[int, dict]:
    """The year's material projects of the county (of every county of a city or province), by id."""
    from subsidy.projects.models import Category, Project

    rows = db.session.execute(sa.select(Project.id, Project.county_code, Project.name, Project.item, Project.item_unit)
                              .where(within(Project.county_code, county_scope(code)), Project.year == year,
                                     Project.category == Category.material)
                              .order_by(Project.name, Project.county_code, Project.id)).all()
    return {r.id: {"id": r.id, "county_code": r.county_code, "name": r.name, "item": r.item or "",
                   "item_unit": r.item_unit or ""} for r in rows}


def figures(code: str, year: int, width: int) -> dict[tuple[str, int], dict]:
    """{(group key, project id): {COUNT_KEYS..., goods_due, goods_handed_out}} under `code`; one
    query. Goods as Decimal."""
    from subsidy.filings.models import Entry, EntryHold, Filing, FilingState, HoldStatus
    from subsidy.materials.models import MaterialPickup
    from subsidy.projects.models import Category, Project
    from subsidy.recoveries.models import WriteOff, WriteOffKind, WriteOffState

    due = standard_cents_sql(Project.rate, Entry.quantity)
    # The pickups of the year's material projects in the region's stores, added up per entry
    # first (by their (project, township) index): joined to the entries, they never repeat a row.
    # Write-offs and open holds are at most one an entry (unique indexes), read by entry_id.
    # Joins, not correlated subqueries: SQLite flattens those into the outer aggregates and
    # probes each again for every sum.
    store = code if len(code) <= 9 else code[:9]
    picked = (sa.select(MaterialPickup.entry_id.label("entry_id"),
                        sa.func.sum(cents(MaterialPickup.quantity)).label("c"))
              .join(Project, Project.id == MaterialPickup.project_id)
              .where(within(MaterialPickup.township_code, store), within(MaterialPickup.region_code, code),
                     Project.year == year, Project.category == Category.material)
              .group_by(MaterialPickup.entry_id).subquery())
    got = sa.func.coalesce(picked.c.c, 0)
    counted = sa.and_(WriteOff.id.is_(None), EntryHold.id.is_(None))
    k = sa.func.substr(Filing.region_code, 1, width).label("k")
    total = lambda cond, value=1: sa.func.coalesce(sa.func.sum(sa.case((cond, value), else_=0)), 0)  # noqa: E731
    stmt = (sa.select(k, Entry.project_id, total(counted), total(sa.and_(counted, got >= due)),
                      total(sa.and_(EntryHold.id.is_not(None), WriteOff.id.is_(None))), total(WriteOff.id.is_not(None)),
                      total(counted, due), total(counted, got))
            .select_from(Filing)
            .join(Project, Project.id == Filing.project_id)
            .join(Entry, Entry.filing_id == Filing.id)
            .outerjoin(picked, picked.c.entry_id == Entry.id)
            .outerjoin(WriteOff, sa.and_(WriteOff.entry_id == Entry.id, WriteOff.kind == WriteOffKind.material,
                                         WriteOff.state == WriteOffState.approved))
            .outerjoin(EntryHold, sa.and_(EntryHold.entry_id == Entry.id, EntryHold.status == HoldStatus.held))
            .where(within(Filing.region_code, code), Project.year == year, Project.category == Category.material,
                   Filing.state.in_((FilingState.county_approved, FilingState.paid)), due > 0)
            .group_by(k, Entry.project_id))
    return {(k, pid): {"entries_due": int(n_due), "entries_done": int(n_done), "entries_held": int(n_held),
                       "entries_written_off": int(n_wo), "goods_due": from_cents(c_due),
                       "goods_handed_out": from_cents(c_got)}
            for k, pid, n_due, n_done, n_held, n_wo, c_due, c_got in db.session.execute(stmt)}


def by_region(figs: dict[tuple[str, int], dict]) -> dict[str, dict[int, dict]]:
    """{group key: {project id: figures}} from `figures`."""
    out: dict[str, dict[int, dict]] = {}
    for (k, pid), f in figs.items():
        out.setdefault(k, {})[pid] = f
    return out


def of_prefix(figs: dict[tuple[str, int], dict], prefix: str) -> dict[int, dict]:
    """{project id: figures} added up over every group under `prefix`."""
    out: dict[int, dict] = {}
    for (k, pid), f in figs.items():
        if k.startswith(prefix):
            add(out.setdefault(pid, empty()), f)
    return out


def block(per_project: dict[int, dict] | None, names: dict[int, dict]) -> dict:
    """The API block of one region from {project id: figures}: counts, rate, goods per project."""
    per_project = per_project or {}
    total = empty()
    goods = []
    for pid, p in names.items():
        f = per_project.get(pid)
        if f is None:
            continue
        add(total, f)
        goods.append({"project_id": pid, "name": p["name"], "item": p["item"], "item_unit": p["item_unit"],
                      "goods_due": fmt(f["goods_due"]), "goods_handed_out": fmt(f["goods_handed_out"]),
                      "entries_due": f["entries_due"], "entries_done": f["entries_done"],
                      "distribution_rate": rate(f["entries_done"], f["entries_due"])})
    return {"entries_due": total["entries_due"], "entries_done": total["entries_done"],
            "distribution_rate": rate(total["entries_done"], total["entries_due"]),
            "entries_held": total["entries_held"], "entries_written_off": total["entries_written_off"],
            "goods": goods}


def empty_block() -> dict:
    return block({}, {})


def project_rows(per_project: dict[int, dict], names: dict[int, dict], code: str) -> list[dict]:
    """The dashboard's table: every material project of the year of the region's county (of each
    county of a province root), with its figures under the region `code` (zero where none);
    quantities as strings (kept as JSON in stats_cache)."""
    out = []
    for pid, p in names.items():
        if not covers(county_scope(code), p["county_code"]):
            continue  # a province root's refresh reads every county's projects at once
        f = per_project.get(pid) or empty()
        out.append({"id": pid, "name": p["name"], "county_code": p["county_code"], "item": p["item"],
                    "item_unit": p["item_unit"], "goods_due": fmt(f["goods_due"]),
                    "goods_handed_out": fmt(f["goods_handed_out"]),
                    "entries_due": f["entries_due"], "entries_done": f["entries_done"],
                    "entries_held": f["entries_held"], "entries_written_off": f["entries_written_off"],
                    "distribution_rate": rate(f["entries_done"], f["entries_due"])})
    return out


def stock(code: str, year: int) -> dict[tuple[str, int], tuple[Decimal, Decimal]]:
    """{(township, project id): (received, distributed)} of the year's material projects in every
    township store at or under `code` (none under a village: a store is a township's): one grouped
    query on the receipts and one on the pickups, each by (project, township), their index."""
    from subsidy.materials.models import MaterialPickup, MaterialReceipt
    from subsidy.projects.models import Category, Project

    out: dict[tuple[str, int], tuple[Decimal, Decimal]] = {}
    for i, table in enumerate((MaterialReceipt, MaterialPickup)):
        stmt = (sa.select(table.township_code, table.project_id, sa.func.sum(cents(table.quantity)))
                .join(Project, Project.id == table.project_id)
                .where(within(table.township_code, code), Project.year == year,
                       Project.category == Category.material)
                .group_by(table.township_code, table.project_id))
        for township, pid, c in db.session.execute(stmt):
            had = list(out.get((township, pid), (ZERO, ZERO)))
            had[i] = from_cents(c)
            out[(township, pid)] = (had[0], had[1])
    return out


def store_rows(stores: dict[tuple[str, int], tuple[Decimal, Decimal]], code: str, width: int,
               regions: dict[str, str], names: dict[int, dict]) -> list[dict]:
    """Rows of the dashboard's store table under `code`, one per (region of code length `width`,
    project) that received or handed out anything: `width` 9 gives each township, 6 (a province)
    each county. `regions` {code: name}. Quantities as strings."""
    added: dict[tuple[str, int], list[Decimal]] = {}
    for (township, pid), (received, distributed) in stores.items():
        if township.startswith(code) and pid in names:
            row = added.setdefault((township[:width], pid), [ZERO, ZERO])
            row[0] += received
            row[1] += distributed
    order = {pid: i for i, pid in enumerate(names)}
    out = []
    for (k, pid), (received, distributed) in sorted(added.items(), key=lambda kv: (kv[0][0], order[kv[0][1]])):
        p = names[pid]
        out.append({"code": k, "name": regions.get(k, k), "project_id": pid, "project": p["name"], "item": p["item"],
                    "item_unit": p["item_unit"], "received": fmt(received), "distributed": fmt(distributed),
                    "on_hand": fmt(received - distributed)})
    return out
