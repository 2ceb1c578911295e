"""API: filings and the watch list (docs/api.md `/filings…`, `/watchlist/import`).

Same service functions as the pages, so the API can never allow what a page refuses."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask import request
from pydantic import BaseModel, ConfigDict, Field

from subsidy.api.spec import (
    PAGING,
    Q_ID,
    Q_REGION,
    Id,
    MoneyIn,
    MoneyStr,
    RegionCode,
    Version,
    enum_str,
    import_answer,
    money_in,
    page_args,
    q_enum,
    route,
)
from subsidy.common.access import current_actor
from subsidy.common.money import AREA_PATTERN
from subsidy.common.params import id_arg
from subsidy.common.xlsx import read_upload
from subsidy.filings import entries, holds, service, watchlist, workflow
from subsidy.filings.models import FilingState, FlagCode, Stage
from subsidy.regions.models import Level

# An entry's quantity (亩, 户, 头…; stored as an area, NUMERIC(12,2)) and amount (money).
QuantityIn = money_in("数量", minimum=Decimal("0.01"), maximum=entries.MAX_QUANTITY, pattern=AREA_PATTERN)
ReturnTo = enum_str(["village_filed", "draft"], "return: back to the township or the village")


class FilingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project_id: Id
    region_code: RegionCode | None = None


class FilingRef(BaseModel):
    id: int
    state: FilingState
    version: int
    round: int  # publicity rounds; a correction publicized is a new round


class EntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    household_id: Id
    quantity: QuantityIn | None = None
    amount: MoneyIn | None = None


class EntryPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quantity: QuantityIn | None = None
    amount: MoneyIn | None = None


class FlagOut(BaseModel):
    code: FlagCode
    explanation: str


class NoteOut(BaseModel):
    id: int
    tier: Level
    author: str
    note: str
    at: datetime
    round: int


class EntryOut(BaseModel):
    id: int
    household_id: int
    head_name: str
    id_number: str
    quantity: MoneyStr
    amount: MoneyStr
    standard_amount: MoneyStr
    flags: list[FlagOut]
    notes: list[NoteOut] = []
    held: bool = False  # 止付 (docs/design.md "Supervision with consequences")
    hold_reason: str | None = None


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=2000)


class HoldOut(BaseModel):
    entry_id: int
    held: bool


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Version
    comment: str | None = Field(default=None, max_length=2000)
    reason: str | None = Field(default=None, max_length=2000)
    to: ReturnTo | None = None


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(max_length=1000)


class ReviewOut(BaseModel):
    tier: Level
    action: str
    actor: str
    comment: str
    at: datetime
    from_state: FilingState
    to_state: FilingState
    version: int


class SnapshotOut(BaseModel):
    stage: Stage
    round: int
    digest: str
    entry_count: int
    total_amount: MoneyStr
    taken_at: datetime


class MismatchChange(BaseModel):
    household_id: int
    fields: list[str]


class MismatchOut(BaseModel):
    stage: str
    compared_with: str
    message: str
    added: list[int]
    removed: list[int]
    changed: list[MismatchChange]


class FilingOut(BaseModel):
    id: int
    project_id: int
    region_code: str
    state: FilingState
    version: int
    round: int
    list_changed: bool
    publicized_at: datetime | None
    publicity_ends_at: datetime | None
    entry_count: int
    total_amount: MoneyStr
    entries: list[EntryOut]
    reviews: list[ReviewOut]
    snapshots: list[SnapshotOut]
    mismatches: list[MismatchOut]


class FilingListItem(BaseModel):
    id: int
    project_id: int
    project_name: str
    region_code: str
    village_name: str
    state: FilingState
    version: int
    households: int
    total_amount: MoneyStr
    flagged_entries: int
    state_changed_at: datetime


class WatchImportOut(BaseModel):
    created: int
    updated: int
    rows: int
    errors: list[dict]
    error_count: int


def _entry_json(line: dict) -> dict:
    e, h = line["entry"], line["household"]
    return EntryOut(
        id=e.id, household_id=e.household_id, head_name=h.head_name, id_number=h.id_number, quantity=e.quantity,
        amount=e.amount, standard_amount=line["standard"],
        flags=[FlagOut(code=f.code, explanation=f.explanation) for f in line["flags"]],
        notes=[NoteOut(id=n.id, tier=n.tier, author=n.author_name, note=n.note, at=n.created_at, round=n.round)
               for n in line["notes"]],
        held=line["hold"] is not None, hold_reason=line["hold"].reason if line["hold"] is not None else None,
    ).model_dump(mode="json")


def _filing_list(result) -> dict:
    """A page of `service.FilingRow`s as docs/api.md's list envelope."""
    items = [FilingListItem(id=r.id, project_id=r.project_id, project_name=r.project_name, region_code=r.region_code,
                            village_name=r.village_name, state=r.state, version=r.version, households=r.households,
                            total_amount=r.total_amount, flagged_entries=r.flagged_entries,
                            state_changed_at=r.state_changed_at).model_dump(mode="json") for r in result.items]
    return {"items": items, "page": result.page, "per_page": result.per_page, "total": result.total}


def _ref(filing) -> dict:
    return FilingRef(id=filing.id, state=filing.state, version=filing.version, round=filing.round).model_dump(
        mode="json")


@route("/filings", "POST", summary="Start a filing of a project for the clerk's village", body=FilingIn,
       response=FilingRef, status=201, tag="filings")
def create_filing(body: FilingIn):
    filing = service.start_filing(current_actor(), body.project_id, body.region_code)
    return _ref(filing)


@route("/filings", "GET", summary="Filings in the user's region", response=FilingListItem, list_response=True,
       tag="filings", query={"state": q_enum(FilingState), "project_id": Q_ID,
                             "region_code": Q_REGION, **PAGING})
def list_filings():
    page, per_page = page_args()
    result = service.list_filings(current_actor(), state=request.args.get("state") or None,
                                  project_id=id_arg("project_id"),
                                  region_code=request.args.get("region_code") or None, page=page, per_page=per_page)
    return _filing_list(result)


@route("/filings/queue", "GET", summary="待我审核: filings waiting for the reviewer's tier, oldest first",
       response=FilingListItem, list_response=True, tag="filings", query=PAGING)
def review_queue():
    page, per_page = page_args()
    result = service.review_queue(current_actor(), page=page, per_page=per_page)
    return _filing_list(result)


@route("/filings/<int:filing_id>", "GET", summary="A filing with entries, reviews, snapshots and mismatches",
       response=FilingOut, tag="filings")
def get_filing(filing_id: int):
    d = service.detail(current_actor(), filing_id)
    f = d["filing"]
    out = FilingOut(
        id=f.id, project_id=f.project_id, region_code=f.region_code, state=f.state, version=f.version, round=f.round,
        list_changed=f.list_changed, publicized_at=f.publicized_at, publicity_ends_at=f.publicity_ends_at,
        entry_count=d["totals"]["households"], total_amount=d["totals"]["amount"], entries=[],
        reviews=[ReviewOut(tier=r.tier, action=r.action.value, actor=r.actor_name, comment=r.comment, at=r.at,
                           from_state=r.from_state, to_state=r.to_state, version=r.version) for r in d["reviews"]],
        snapshots=[SnapshotOut(stage=s.stage, round=s.round, digest=s.digest, entry_count=s.entry_count,
                               total_amount=s.total_amount, taken_at=s.taken_at) for s in d["snapshots"]],
        mismatches=[MismatchOut(**m.as_dict()) for m in d["mismatches"]],
    ).model_dump(mode="json")
    out["entries"] = [_entry_json(line) for line in d["lines"]]
    return out


def _one_entry(filing_id: int, entry_id: int) -> dict:
    filing = service.get_filing(current_actor(), filing_id)
    lines, _ = service.entry_lines(filing, entry_ids=[entry_id])
    return _entry_json(lines[0])


@route("/filings/<int:filing_id>/entries", "POST", summary="Add a household to a draft filing (village clerk)",
       body=EntryIn, response=EntryOut, status=201, tag="filings")
def add_entry(filing_id: int, body: EntryIn):
    entry = entries.add_entry(current_actor(), filing_id, body.household_id, body.quantity, body.amount)
    return _one_entry(filing_id, entry.id)


@route("/filings/<int:filing_id>/entries/all", "POST", summary="Add every household of the village (set-based)",
       status=201, tag="filings")
def add_all_entries(filing_id: int):
    return entries.add_all_households(current_actor(), filing_id)


@route("/filings/<int:filing_id>/entries/<int:entry_id>", "PATCH", summary="Change an entry's quantity or amount",
       body=EntryPatch, response=EntryOut, tag="filings")
def update_entry(filing_id: int, entry_id: int, body: EntryPatch):
    data = body.model_dump(exclude_unset=True)
    entries.update_entry(current_actor(), filing_id, entry_id, data.get("quantity"), data.get("amount"))
    return _one_entry(filing_id, entry_id)


@route("/filings/<int:filing_id>/entries/<int:entry_id>", "DELETE", summary="Remove an entry from a draft filing",
       status=204, tag="filings")
def delete_entry(filing_id: int, entry_id: int):
    entries.delete_entry(current_actor(), filing_id, entry_id)
    return None


@route("/filings/<int:filing_id>/actions/<action>", "POST",
       summary="Apply a transition: publicize, withdraw, submit, approve, return", body=ActionIn, response=FilingRef,
       tag="filings")
def perform_action(filing_id: int, action: str, body: ActionIn):
    filing = workflow.perform(current_actor(), filing_id, action, version=body.version, comment=body.comment,
                              reason=body.reason, to=body.to)
    return _ref(filing)


@route("/filings/<int:filing_id>/entries/<int:entry_id>/notes", "POST",
       summary="A reviewer's note on an entry (answers its risk flags)", body=NoteIn, status=201, tag="filings")
def add_note(filing_id: int, entry_id: int, body: NoteIn):
    note = service.add_note(current_actor(), filing_id, entry_id, body.note)
    return NoteOut(id=note.id, tier=note.tier, author=note.author_name, note=note.note, at=note.created_at,
                   round=note.round).model_dump(mode="json")


@route("/filings/<int:filing_id>/entries/<int:entry_id>/hold", "POST", body=ReasonIn, response=HoldOut,
       summary="止付: keep an entry from payment, with a reason (county reviewer, supervisor)", tag="filings")
def hold_entry(filing_id: int, entry_id: int, body: ReasonIn):
    holds.hold_entry(current_actor(), filing_id, entry_id, body.reason)
    return HoldOut(entry_id=entry_id, held=True).model_dump(mode="json")


@route("/filings/<int:filing_id>/entries/<int:entry_id>/release", "POST", body=ReasonIn, response=HoldOut,
       summary="Release an entry's 止付, with a reason (county reviewer, supervisor)", tag="filings")
def release_entry(filing_id: int, entry_id: int, body: ReasonIn):
    holds.release_entry(current_actor(), filing_id, entry_id, body.reason)
    return HoldOut(entry_id=entry_id, held=False).model_dump(mode="json")


@route("/watchlist/import", "POST",
       summary="Import the county's watch list from .xlsx (any bad row: nothing written, 400)",
       response=WatchImportOut,
       multipart={"file": ".xlsx; first row: 身份证号, 姓名, 类别, 来源; "
                          "类别 ∈ 已故, 财政供养人员, 村干部, 村干部亲属"}, tag="filings")
def import_watchlist():
    upload = read_upload("file", required=False)
    return import_answer(watchlist.import_watchlist(current_actor(), upload and upload.stream,
                                                    upload and upload.filename))
