"""Deadlines of cases: the county's time limits per kind, the working-day calendar (overrides
edited day by day or loaded for a whole year from .xlsx) and the deadlines reckoned from them.
Every calendar change recomputes the deadlines of the county's open cases (docs/design.md "Cases").

It depends on the models and the calendar only: the receiving service and the queue import it,
never the other way round."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa

from subsidy.accounts.permissions import Perm, can, exempt, require, requires
from subsidy.audit import service as audit
from subsidy.cases.calendar import (
    WARN_AHEAD_DAYS,
    WorkCalendar,
    local_date,
    package_covers,
    start_of_local_day,
    statutory_holidays,
    uncovered_years_ahead,
)
from subsidy.cases.models import (
    Case,
    CaseEvent,
    CaseKind,
    CaseSettings,
    EventKind,
    WorkCalendarDay,
    WorkCalendarYear,
)
from subsidy.cases.workflow import COMPLETED_STATES, OPEN_STATES
from subsidy.common.database import read_phase
from subsidy.common.limits import CALENDAR
from subsidy.common.params import YEAR_MAX, YEAR_MIN, check_year
from subsidy.common.timeutil import local_today, to_local, utcnow
from subsidy.common.xlsx import (
    RowErrors,
    SheetReader,
    cell_text,
    check_filename,
    map_headers,
    require_file,
    write_workbook,
)
from subsidy.errors import NotFound, ValidationError
from subsidy.extensions import db
from subsidy.regions.scope import within
from subsidy.regions.service import county_of, county_only_code

CALENDAR_HEADERS = {"日期": "day", "类型": "type", "说明": "note"}
WORKDAY_WORDS = {"工作日": True, "上班": True, "班": True, "休息日": False, "休息": False, "放假": False,
                 "节假日": False, "假": False}
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日")
DEFAULT_DAYS = {CaseKind.inquiry: 3, CaseKind.objection: 5, CaseKind.complaint: 15}


def _county(actor) -> str:
    require(actor, Perm.manage_calendar)
    return county_only_code(actor)


# ---------------------------------------------------------------- time limits


def days_for(county_code: str, kind: CaseKind) -> int:
    """The county's limit in working days for a kind of case (defaults 3 / 15 / 5)."""
    settings = db.session.get(CaseSettings, county_code[:6])
    if settings is None:
        return DEFAULT_DAYS[kind]
    return getattr(settings, f"{kind.value}_days")


def case_days(county_code: str) -> dict[str, int]:
    settings = db.session.get(CaseSettings, county_code[:6])
    return {kind.value: (getattr(settings, f"{kind.value}_days") if settings else DEFAULT_DAYS[kind])
            for kind in CaseKind}


@requires(Perm.manage_calendar)
def update_case_days(actor, **days) -> dict[str, int]:
    """Set the county's limits in working days. They apply to cases received from now on: a
    case keeps the limit it was received with."""
    county = _county(actor)
    values, errors = {}, {}
    for kind in CaseKind:
        raw = days.get(f"{kind.value}_days")
        try:
            value = int(str(raw).strip())
            if not 1 <= value <= 60:
                raise ValueError
            values[f"{kind.value}_days"] = value
        except (TypeError, ValueError):
            errors[f"{kind.value}_days"] = f"{kind.label}期限应为 1 到 60 个工作日"
    if errors:
        raise ValidationError("办理期限有误", fields=errors)
    settings = db.session.get(CaseSettings, county)
    before = case_days(county)
    if settings is None:
        settings = CaseSettings(county_code=county)
        db.session.add(settings)
    for key, value in values.items():
        setattr(settings, key, value)
    settings.updated_at, settings.updated_by = utcnow(), actor.id
    db.session.flush()
    audit.record(actor, "case.settings", "case_settings", county, region_code=county, before=before, after=values)
    return case_days(county)


# ---------------------------------------------------------------- deadlines


@dataclass
class Recomputed:
    changed: int = 0       # cases whose deadline moved or stopped being provisional
    unchanged: int = 0
    provisional: int = 0   # cases still reckoned through a year no calendar covers


def _deadline_note(old_due, new_due, was_provisional: bool, provisional: bool) -> str:
    if old_due != new_due:
        return (f"工作日历调整：办理期限由 {to_local(old_due):%Y-%m-%d} 改为 {to_local(new_due):%Y-%m-%d}"
                + ("（暂定）" if provisional else ""))
    if was_provisional and not provisional:
        return f"工作日历已设置：办理期限 {to_local(new_due):%Y-%m-%d} 已确定"
    return f"办理期限 {to_local(new_due):%Y-%m-%d} 改为暂定"


def recompute_deadlines(county_code: str, actor=None) -> Recomputed:
    """New deadlines after a calendar change, for the county's open cases and for every case
    whose deadline is provisional (a completed one is then judged on time or late against its
    final deadline). Cases are grouped by (day the clock started, limit): one computation and
    one UPDATE per distinct deadline, and a timeline step for each case that changed."""
    county = county_code[:6]
    rows = db.session.execute(
        sa.select(Case.id, Case.clock_from, Case.due_days, Case.due_at, Case.due_provisional)
        .where(within(Case.region_code, county), sa.or_(Case.state.in_(OPEN_STATES), Case.due_provisional))
    ).all()
    cal = WorkCalendar(county)
    groups: dict[tuple[date, int], list] = defaultdict(list)
    for row in rows:
        groups[(local_date(row.clock_from), row.due_days)].append(row)
    result = Recomputed()
    now = utcnow()
    events = []
    for (start, days), members in groups.items():
        new = cal.reckon(start_of_local_day(start), days)
        moved = [r for r in members if (r.due_at, r.due_provisional) != (new.at, new.provisional)]
        result.unchanged += len(members) - len(moved)
        result.provisional += len(members) if new.provisional else 0
        if not moved:
            continue
        ids = [r.id for r in moved]
        late = sa.case((Case.state.in_(COMPLETED_STATES), Case.replied_at > new.at), else_=Case.completed_late)
        for i in range(0, len(ids), 500):
            db.session.execute(sa.update(Case).where(Case.id.in_(ids[i:i + 500]))
                               .values(due_at=new.at, due_provisional=new.provisional, completed_late=late)
                               .execution_options(synchronize_session=False))
        for r in moved:
            events.append({"case_id": r.id, "kind": EventKind.deadline_changed, "at": now,
                           "actor_id": getattr(actor, "id", None), "actor_name": getattr(actor, "name", None) or "系统",
                           "note": _deadline_note(r.due_at, new.at, r.due_provisional, new.provisional)})
        result.changed += len(moved)
    if events:
        db.session.execute(sa.insert(CaseEvent.__table__), events)
    db.session.expire_all()
    return result


def recompute_provisional_deadlines() -> dict[str, Recomputed]:
    """Every county with provisional deadlines, recomputed: run daily (`flask cases escalate`),
    so that a deadline becomes final as soon as the installed `chinese_calendar` learns its year
    (an upgrade) without anyone loading a file. Returns the counties that had any."""
    counties = db.session.scalars(sa.select(sa.distinct(sa.func.substr(Case.region_code, 1, 6)))
                                  .where(Case.due_provisional))
    return {county: recompute_deadlines(county) for county in sorted(counties)}


# ---------------------------------------------------------------- the calendar


@requires(Perm.manage_calendar)
def calendar_overview(actor, year: int | None = None) -> dict:
    county = _county(actor)
    year = check_year(year or local_today().year)
    overrides = list(db.session.scalars(
        sa.select(WorkCalendarDay).where(WorkCalendarDay.county_code == county,
                                         WorkCalendarDay.day.between(date(year, 1, 1), date(year, 12, 31)))
        .order_by(WorkCalendarDay.day)))
    marked = db.session.get(WorkCalendarYear, (county, year))
    covered = package_covers(year) or marked is not None
    return {"county": county, "year": year, "overrides": overrides, "package": package_covers(year),
            "marked": marked, "covered": covered,
            # What a provisional deadline in this year rests on, shown so the admin can check it.
            "statutory": [] if covered else sorted(statutory_holidays(year).items()),
            "complete_years": sorted(db.session.scalars(
                sa.select(WorkCalendarYear.year).where(WorkCalendarYear.county_code == county))),
            "days": case_days(county), "warnings": calendar_warnings(actor)}


@exempt("the shell passes no actor; a staff actor must manage the calendar (checked inside)")
def calendar_template(actor, year: int | None = None):
    """The .xlsx to fill in for a year's calendar (日期, 类型, 说明), pre-filled with the statutory
    holidays the platform reckons for that year, so that the admin only corrects it from the
    State Council's notice and adds the 调休 make-up working days. Returns (file, filename).
    `actor` None: the shell (the statutory holidays are the same for every county)."""
    if actor is not None:
        _county(actor)
    year = check_year(year or local_today().year + 1)
    rows = [(day.isoformat(), "休息日", name) for day, name in statutory_holidays(year).items()]
    book = write_workbook(f"{year}年工作日历", list(CALENDAR_HEADERS), rows, widths={0: 14, 1: 10, 2: 36},
                          text_columns=(0,))
    return book, f"{year}年工作日历模板.xlsx"


def _after_change(actor, county: str, action: str, **detail) -> Recomputed:
    result = recompute_deadlines(county, actor)
    audit.record(actor, action, "work_calendar", county, region_code=county, recomputed=result.changed, **detail)
    return result


def parse_day(value) -> date:
    """A calendar day from a form, a cell or a date, within the years a calendar may cover."""
    day = _parse_day(value)
    if not YEAR_MIN <= day.year <= YEAR_MAX:
        raise ValueError(f"年份应在 {YEAR_MIN}–{YEAR_MAX} 之间")
    return day


def _parse_day(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = cell_text(value)
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError("日期格式不正确，应为 2027-01-01")


@requires(Perm.manage_calendar)
def set_calendar_day(actor, day, is_workday, note: str = "") -> Recomputed:
    """Add or change one override (a holiday, a make-up workday, a regional holiday)."""
    county = _county(actor)
    try:
        day = parse_day(day)
    except ValueError as exc:
        raise ValidationError(str(exc), fields={"day": str(exc)}) from None
    note = (note or "").strip()[:100]
    row = db.session.get(WorkCalendarDay, (county, day))
    if row is None:
        row = WorkCalendarDay(county_code=county, day=day)
        db.session.add(row)
    row.is_workday, row.note, row.updated_at, row.updated_by = bool(is_workday), note, utcnow(), actor.id
    db.session.flush()
    return _after_change(actor, county, "calendar.set_day", day=day.isoformat(), is_workday=bool(is_workday), note=note)


@requires(Perm.manage_calendar)
def delete_calendar_day(actor, day) -> Recomputed:
    county = _county(actor)
    try:
        day = parse_day(day)
    except ValueError as exc:
        raise ValidationError(str(exc), fields={"day": str(exc)}) from None
    row = db.session.get(WorkCalendarDay, (county, day))
    if row is None:
        raise NotFound("该日期没有设置")
    db.session.delete(row)
    db.session.flush()
    return _after_change(actor, county, "calendar.delete_day", day=day.isoformat())


@requires(Perm.manage_calendar)
def mark_year(actor, year: int, complete: bool) -> Recomputed:
    """Declare that the overrides of `year` list every holiday and make-up workday of it (or
    take that back): a year the package does not know is covered only once marked."""
    county = _county(actor)
    year = check_year(year)
    row = db.session.get(WorkCalendarYear, (county, year))
    if complete and row is None:
        db.session.add(WorkCalendarYear(county_code=county, year=year, source="manual", marked_by=actor.id))
    elif not complete and row is not None:
        db.session.delete(row)
    db.session.flush()
    return _after_change(actor, county, "calendar.mark_year", year=year, complete=complete)


@dataclass
class CalendarImport:
    year: int
    rows: int = 0
    workdays: int = 0
    restdays: int = 0
    errors: RowErrors = field(default_factory=RowErrors)
    recomputed: Recomputed | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


def _read_calendar(fileobj, year: int, result: CalendarImport) -> dict[date, tuple[bool, str]]:
    """{day: (is a workday, note)} of the file; bad rows go to `result.errors`."""
    values: dict[date, tuple[bool, str]] = {}
    with SheetReader(fileobj, CALENDAR) as sheet:
        columns = map_headers(sheet.headers, CALENDAR_HEADERS, required=("day", "type"), errors=result.errors)
        if result.errors:
            return values
        for number, cells in sheet:
            result.rows += 1
            try:
                day = parse_day(cells[columns["day"]])
            except ValueError as exc:
                result.errors.add(number, "日期", str(exc))
                continue
            kind = cell_text(cells[columns["type"]])
            if kind not in WORKDAY_WORDS:
                result.errors.add(number, "类型", "类型应为“工作日”或“休息日”")
                continue
            if day.year != year:
                result.errors.add(number, "日期", f"{day.isoformat()} 不在 {year} 年")
                continue
            if day in values:
                result.errors.add(number, "日期", f"{day.isoformat()} 重复出现")
                continue
            note = cell_text(cells[columns["note"]])[:100] if "note" in columns else ""
            values[day] = (WORKDAY_WORDS[kind], note)
    return values


def _importing_county(actor, county_code: str | None) -> str:
    """The county whose calendar is loaded: the admin's own, or for the shell (`flask cases
    calendar-import`, trusted like the installer) the one it names."""
    if actor is not None:
        return _county(actor)
    from subsidy.regions.models import Level, Region

    code = (county_code or "")[:6]
    region = db.session.get(Region, code) if len(code) == 6 else None
    if region is None or region.level != Level.county:
        raise ValidationError("县代码不正确", fields={"county": "请给出一个县的 6 位代码"})
    return code


@exempt("the shell passes no actor and a county; a staff actor must manage the calendar (checked inside)")
def import_calendar(actor, fileobj, filename: str | None, year, *, county_code: str | None = None) -> CalendarImport:
    """Load a year's holidays and make-up workdays from .xlsx (headers 日期, 类型 工作日/休息日,
    说明). It replaces that year's overrides and marks the year complete; any bad row and
    nothing is written. The file is read in the read phase (no write lock held on SQLite);
    the write phase replaces the year as it then stands. `actor` None: the shell, for
    `county_code`."""
    with read_phase():
        _importing_county(actor, county_code)
        try:
            year = check_year(year)
        except (TypeError, ValueError):
            raise ValidationError("请选择年份", fields={"year": "请选择年份"}) from None
        require_file(fileobj)
        check_filename(filename)
        result = CalendarImport(year)
        values = _read_calendar(fileobj, year, result)
        if not result.errors and not values:
            result.errors.add(2, "日期", "文件中没有日期：请列出该年的每个节假日和调休上班日")
        if result.errors:
            return result
    county = _importing_county(actor, county_code)  # the admin's rights, again under the write lock
    by = getattr(actor, "id", None)
    db.session.execute(sa.delete(WorkCalendarDay).where(
        WorkCalendarDay.county_code == county, WorkCalendarDay.day.between(date(year, 1, 1), date(year, 12, 31))))
    now = utcnow()
    db.session.execute(sa.insert(WorkCalendarDay.__table__), [
        {"county_code": county, "day": day, "is_workday": flag, "note": note, "updated_at": now, "updated_by": by}
        for day, (flag, note) in sorted(values.items())])
    marked = db.session.get(WorkCalendarYear, (county, year))
    if marked is None:
        db.session.add(WorkCalendarYear(county_code=county, year=year, source="xlsx", marked_by=by))
    else:
        marked.source, marked.marked_at, marked.marked_by = "xlsx", now, by
    db.session.flush()
    result.workdays = sum(1 for flag, _ in values.values() if flag)
    result.restdays = len(values) - result.workdays
    result.recomputed = _after_change(actor, county, "calendar.import", year=year, rows=len(values))
    return result


@exempt("a question: nothing for one who may not view cases; the advice depends on manage_calendar")
def calendar_warnings(actor) -> list[str]:
    """What staff must be told: a year starting within WARN_AHEAD_DAYS (or the current one) that
    no calendar covers, so deadlines in it are only provisional until its calendar is loaded."""
    if actor is None or not can(actor, Perm.view_cases) or len(actor.region_code) < 6:
        # A city has no calendar of its own: each county's admin is told about the county's.
        return []
    years = uncovered_years_ahead(county_of(actor.region_code), local_today())
    if can(actor, Perm.manage_calendar):
        todo = "请在“诉求办理 → 工作日历”中导入 {y} 年的节假日和调休安排"
    else:
        todo = "请联系县级管理员在“诉求办理 → 工作日历”中导入 {y} 年的节假日和调休安排"
    return [f"{y} 年的工作日历尚未设置：期限落在 {y} 年的诉求照常受理，期限暂按法定节假日推算（标为“暂定”），"
            f"日历导入后自动重算。" + todo.format(y=y) + f"（提前 {WARN_AHEAD_DAYS} 天提醒）。"
            for y in years]
