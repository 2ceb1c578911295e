"""备案快照: the list as each tier filed it, and the comparison of two lists.

docs/design.md "Three-level filing and review": a snapshot is a canonical SHA-256 digest of the entry
list (household, ID number, quantity, amount, payout account) with count and total. The lines
are kept too (copied set-based, INSERT … SELECT) so that a difference can be shown line by line.

Canonical form: one line per household, sorted by household id,
`household_id|ID_NUMBER|quantity|amount|payout_account`, quantity and amount with two decimals,
lines joined by "\\n", hashed as UTF-8. Any change in any of these fields changes the digest."""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa
from cachetools import LRUCache
from flask import current_app
from sqlalchemy.orm import aliased

from subsidy.common.database import two_decimals
from subsidy.common.money import quantize
from subsidy.common.timeutil import utcnow
from subsidy.extensions import db
from subsidy.filings.models import Entry, Filing, FilingState, ListStamp, Snapshot, SnapshotLine, Stage
from subsidy.households.models import Household

FIELD_LABEL = {"id_number": "身份证号", "quantity": "数量", "amount": "金额", "payout_account": "一卡通账号",
               "head_name": "姓名"}
# Fields that make up the digest; the name is kept for display only.
DIGEST_FIELDS = ("id_number", "quantity", "amount", "payout_account")
MAX_LISTED = 200  # differing lines listed in full on a page; the counts are always exact


@dataclass
class Line:
    household_id: int
    head_name: str
    id_number: str
    quantity: Decimal
    amount: Decimal
    payout_account: str | None

    def canonical(self) -> str:
        return "|".join([str(self.household_id), (self.id_number or "").upper(), str(quantize(self.quantity)),
                         str(quantize(self.amount)), self.payout_account or ""])


@dataclass
class Digest:
    digest: str
    entry_count: int
    total_amount: Decimal


def digest_of(lines: list[Line]) -> Digest:
    """The digest of lines held in Python (the same canonical form as `digest_sql`)."""
    lines = sorted(lines, key=lambda x: x.household_id)
    h = hashlib.sha256("\n".join(line.canonical() for line in lines).encode())
    return Digest(h.hexdigest(), len(lines), quantize(sum((x.amount for x in lines), Decimal("0"))))


def _canonical_sql(household_id, id_number, quantity, amount, payout_account):
    """The canonical line, built by the database: only short strings travel, in order."""
    bar = sa.literal("|", sa.String)
    return (sa.cast(household_id, sa.String) + bar + sa.func.upper(id_number) + bar + two_decimals(quantity) + bar
            + two_decimals(amount) + bar + sa.func.coalesce(payout_account, ""))


def digest_sql(columns, from_where) -> Digest:
    """Digest of the lines `from_where(select)` yields; `columns` = (household_id, id_number,
    quantity, amount, payout_account) column expressions of that select."""
    hid, _, _, amount, _ = columns
    # One pass: the lines and their amounts together (a second query for count and sum cost
    # as much again on a 5,000-entry review page).
    rows = db.session.execute(from_where(sa.select(_canonical_sql(*columns), amount)).order_by(hid)).all()
    digest = hashlib.sha256("\n".join(line for line, _ in rows).encode()).hexdigest()
    return Digest(digest, len(rows), quantize(sum((Decimal(a) for _, a in rows), Decimal("0"))))


def live_lines_select(filing_id: int):
    return (sa.select(Entry.household_id, Household.head_name, Household.id_number, Entry.quantity, Entry.amount,
                      Household.payout_account)
            .join(Household, Household.id == Entry.household_id)
            .where(Entry.filing_id == filing_id))


def live_lines(filing_id: int) -> list[Line]:
    return [Line(*row) for row in db.session.execute(live_lines_select(filing_id))]


def live_digest(filing_id: int) -> Digest:
    return digest_sql((Entry.household_id, Household.id_number, Entry.quantity, Entry.amount, Household.payout_account),
                      lambda q: q.select_from(Entry).join(Household, Household.id == Entry.household_id)
                      .where(Entry.filing_id == filing_id))


LIVE_DIGESTS_KEPT = 1024  # filings whose live digest a worker process keeps (~200 bytes each)
_live_lock = threading.Lock()


def cached_live_digest(filing_id: int) -> Digest:
    """`live_digest`, computed once per state of the list: kept under the filing's list stamp,
    which database triggers replace whenever anything the digest covers changes (migration
    0009, `ListStamp`), so a change made with plain SQL shows on the next view as one made by
    the app does. The stamp is read before the digest is computed: the digest is then of that
    stamp's data or of newer data (never older), and a stamp of a rolled-back change never
    comes back. A filing without a stamp row (inserted with its triggers set aside) is
    computed every time."""
    stamp = db.session.scalar(sa.select(ListStamp.stamp).where(ListStamp.filing_id == filing_id))
    if stamp is None:
        return live_digest(filing_id)
    cache = current_app.extensions.get("live_digests")
    if cache is None:
        cache = current_app.extensions.setdefault("live_digests", LRUCache(LIVE_DIGESTS_KEPT))
    key = (filing_id, stamp)
    with _live_lock:
        found = cache.get(key)
    if found is None:
        found = live_digest(filing_id)
        with _live_lock:
            cache[key] = found
    return found


def snapshot_digest(snapshot_id: int) -> Digest:
    """Recomputed from the stored lines (equals the stored digest unless they were altered)."""
    L = SnapshotLine
    return digest_sql((L.household_id, L.id_number, L.quantity, L.amount, L.payout_account),
                      lambda q: q.select_from(L).where(L.snapshot_id == snapshot_id))


def snapshot_lines(snapshot_id: int) -> list[Line]:
    stmt = sa.select(SnapshotLine.household_id, SnapshotLine.head_name, SnapshotLine.id_number, SnapshotLine.quantity,
                     SnapshotLine.amount, SnapshotLine.payout_account).where(SnapshotLine.snapshot_id == snapshot_id)
    return [Line(*row) for row in db.session.execute(stmt)]


def take_snapshot(filing: Filing, stage: Stage, actor) -> Snapshot:
    """Copy the live list into a new snapshot (one INSERT … SELECT) and digest the copy."""
    snap = Snapshot(filing_id=filing.id, round=filing.round, stage=stage, taken_at=utcnow(),
                    taken_by=getattr(actor, "id", None))
    db.session.add(snap)
    db.session.flush()
    source = live_lines_select(filing.id).add_columns(sa.literal(snap.id).label("snapshot_id"))
    db.session.execute(sa.insert(SnapshotLine).from_select(
        ["household_id", "head_name", "id_number", "quantity", "amount", "payout_account", "snapshot_id"], source))
    d = snapshot_digest(snap.id)
    snap.digest, snap.entry_count, snap.total_amount = d.digest, d.entry_count, d.total_amount
    db.session.flush()
    return snap


def round_snapshots(filing: Filing) -> dict[Stage, Snapshot]:
    """The latest snapshot of each stage in the filing's current publicity round."""
    rows = db.session.scalars(sa.select(Snapshot).where(Snapshot.filing_id == filing.id,
                                                       Snapshot.round == filing.round).order_by(Snapshot.id))
    return {s.stage: s for s in rows}


def all_snapshots(filing_id: int) -> list[Snapshot]:
    return list(db.session.scalars(sa.select(Snapshot).where(Snapshot.filing_id == filing_id).order_by(Snapshot.id)))


@dataclass
class Diff:
    added: list[Line] = field(default_factory=list)      # in `new`, not in `old`
    removed: list[Line] = field(default_factory=list)    # in `old`, not in `new`
    changed: list[tuple[Line, Line, list[str]]] = field(default_factory=list)  # (old, new, fields)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def summary(self) -> str:
        parts = []
        if self.added:
            parts.append(f"新增 {len(self.added)} 户")
        if self.removed:
            parts.append(f"减少 {len(self.removed)} 户")
        if self.changed:
            fields = sorted({f for _, _, fs in self.changed for f in fs}, key=DIGEST_FIELDS.index)
            parts.append(f"变更 {len(self.changed)} 户（{'、'.join(FIELD_LABEL[f] for f in fields)}）")
        return "，".join(parts)


def compare(old: list[Line], new: list[Line]) -> Diff:
    before = {x.household_id: x for x in old}
    after = {x.household_id: x for x in new}
    diff = Diff()
    for hid in sorted(after.keys() - before.keys()):
        diff.added.append(after[hid])
    for hid in sorted(before.keys() - after.keys()):
        diff.removed.append(before[hid])
    for hid in sorted(before.keys() & after.keys()):
        a, b = before[hid], after[hid]
        fields = [f for f in DIGEST_FIELDS if Line.canonical(_only(a, f)) != Line.canonical(_only(b, f))]
        if fields:
            diff.changed.append((a, b, fields))
    return diff


CORRECTED_FIELDS = ("quantity", "amount")


def correction_base(filing: Filing) -> Snapshot | None:
    """The county-approved list a correction (更正) corrects: the latest county snapshot of the
    round it was reopened in."""
    if filing.correction_of_round is None:
        return None
    return db.session.scalar(sa.select(Snapshot).where(
        Snapshot.filing_id == filing.id, Snapshot.round == filing.correction_of_round,
        Snapshot.stage == Stage.county).order_by(Snapshot.id.desc()).limit(1))


def corrected(base: Snapshot):
    """SQL: the entry (`Entry` of the enclosing query) differs from its line in `base` in
    quantity or amount, or has none (added): what a correction changed, set-based."""
    from subsidy.filings.models import Entry
    from subsidy.projects.amounts import cents

    same = sa.select(SnapshotLine.household_id).where(
        SnapshotLine.snapshot_id == base.id, SnapshotLine.household_id == Entry.household_id,
        cents(SnapshotLine.quantity) == cents(Entry.quantity), cents(SnapshotLine.amount) == cents(Entry.amount))
    return ~sa.exists(same)


def correction_changes(filing: Filing) -> tuple[dict[int, Decimal | None], list] | None:
    """`correction_diff` for the public board, set-based (it is drawn on every farmer's visit):
    ({household id: its amount before, None if added} of the lines the correction changes, the
    base's lines of the households it deleted). None outside a correction."""
    from subsidy.filings.models import Entry

    base = correction_base(filing)
    if base is None:
        return None
    before = aliased(SnapshotLine)
    changed = dict(db.session.execute(
        sa.select(Entry.household_id, before.amount)
        .outerjoin(before, sa.and_(before.snapshot_id == base.id, before.household_id == Entry.household_id))
        .where(Entry.filing_id == filing.id, corrected(base))).all())
    removed = db.session.execute(
        sa.select(SnapshotLine).where(SnapshotLine.snapshot_id == base.id, ~sa.exists(
            sa.select(Entry.id).where(Entry.filing_id == filing.id, Entry.household_id == SnapshotLine.household_id)))
        .order_by(SnapshotLine.household_id)).scalars().all()
    return changed, list(removed)


def correction_diff(filing: Filing) -> Diff | None:
    """What a correction changes: households added or removed, and the quantity or amount of
    those kept (a register change of an account is not the correction's). None outside a
    correction."""
    base = correction_base(filing)
    if base is None:
        return None
    diff = compare(snapshot_lines(base.id), live_lines(filing.id))
    diff.changed = [(a, b, [f for f in fields if f in CORRECTED_FIELDS]) for a, b, fields in diff.changed
                    if any(f in CORRECTED_FIELDS for f in fields)]
    return diff


def _only(line: Line, name: str) -> Line:
    """A line with every digest field blanked but `name`, to compare one field canonically."""
    blank = Line(line.household_id, "", "", Decimal(0), Decimal(0), None)
    setattr(blank, name, getattr(line, name))
    return blank


@dataclass
class Mismatch:
    stage: str          # a Stage value, or "current" for the live list
    compared_with: str  # the Stage value it should equal
    diff: Diff
    message: str

    def as_dict(self) -> dict:
        return {
            "stage": self.stage, "compared_with": self.compared_with, "message": self.message,
            "added": [x.household_id for x in self.diff.added],
            "removed": [x.household_id for x in self.diff.removed],
            "changed": [{"household_id": new.household_id, "fields": fields} for _, new, fields in self.diff.changed],
        }


def _label(stage: str) -> str:
    return "当前名单" if stage == "current" else str(Stage(stage).label)


def find_mismatches(filing: Filing, snaps: dict[Stage, Snapshot] | None = None,
                    live: Digest | None = None) -> list[Mismatch]:
    """Every difference the platform must show loudly (docs/design.md): a tier's snapshot that differs
    from the publicized list, the paid list that differs from the approved one, and the live list
    that differs from the last snapshot (a change made behind the workflow's back)."""
    snaps = round_snapshots(filing) if snaps is None else snaps
    found: list[Mismatch] = []
    pairs = [(s, Stage.publicized) for s in (Stage.village, Stage.township, Stage.county)]
    pairs.append((Stage.paid, Stage.county))
    for stage, against in pairs:
        a, b = snaps.get(against), snaps.get(stage)
        if a is not None and b is not None and a.digest != b.digest:
            diff = compare(snapshot_lines(a.id), snapshot_lines(b.id))
            found.append(Mismatch(stage.value, against.value, diff,
                                  f"{_label(stage.value)}与{_label(against.value)}不一致："
                                  f"{diff.summary() or '摘要不同'}"))
    if filing.state != FilingState.draft and snaps:
        last = max(snaps.values(), key=lambda s: s.id)
        live = live_digest(filing.id) if live is None else live
        if live.digest != last.digest:
            diff = compare(snapshot_lines(last.id), live_lines(filing.id))
            found.append(Mismatch("current", last.stage.value, diff,
                                  f"当前名单与{_label(last.stage.value)}不一致（名单在流程之外被改动）："
                                  f"{diff.summary() or '摘要不同'}"))
    return found


def side_by_side(filing: Filing, snaps: dict[Stage, Snapshot], live: Digest) -> dict:
    """The columns (each stage of this round, then the live list) with their count, total and
    digest, and the lines that differ between any two of them, each cell marked when it
    differs from the publicized list. Lines are loaded only when some digest differs."""
    columns = [(s.value, _label(s.value)) for s in Stage if s in snaps]
    show_live = filing.state != FilingState.draft or not snaps
    if show_live:
        columns.append(("current", "当前名单"))
    digests = {snap.digest for snap in snaps.values()} | ({live.digest} if show_live else set())
    if len(digests) <= 1:
        return {"columns": columns, "rows": [], "differing": 0}
    lines_by_col: dict[str, dict[int, Line]] = {s.value: {x.household_id: x for x in snapshot_lines(snap.id)}
                                                for s, snap in snaps.items()}
    if show_live:
        lines_by_col["current"] = {x.household_id: x for x in live_lines(filing.id)}
    keys = [c for c, _ in columns]
    base = lines_by_col.get(Stage.publicized.value) or lines_by_col[keys[0]]
    hids = set().union(*(d.keys() for d in lines_by_col.values()))
    rows = []
    differing = 0
    for hid in sorted(hids):
        cells = [lines_by_col[k].get(hid) for k in keys]
        if len({c.canonical() if c else None for c in cells}) <= 1:
            continue
        differing += 1
        if len(rows) < MAX_LISTED:
            ref = base.get(hid)
            ref_canon = ref.canonical() if ref else None
            rows.append({"household_id": hid, "cells": [
                {"line": c, "differs": (c.canonical() if c else None) != ref_canon} for c in cells]})
    return {"columns": columns, "rows": rows, "differing": differing}
