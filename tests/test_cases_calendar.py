"""Deadlines in working days on China's calendar: 调休 make-up days, the county's
override table, years no calendar covers, recomputation when the calendar changes."""
from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
import time_machine

from subsidy.cases import deadlines
from subsidy.cases.calendar import WorkCalendar, package_covers
from subsidy.cases.models import CaseEvent, EventKind, WorkCalendarDay
from subsidy.common.timeutil import CHINA_TZ
from subsidy.errors import PermissionDenied
from tests.cases_support import COUNTY, china, due_local, record
from tests.factories import make_user, make_xlsx


def end_of(y, m, d):
    return datetime(y, m, d, 23, 59, 59, tzinfo=CHINA_TZ)


@pytest.fixture
def clerk(county):
    return make_user("township_reviewer", "640425100")


@pytest.fixture
def admin_user(county):
    return make_user("county_admin", COUNTY)


# ---------------------------------------------------------------- the rule itself


@pytest.mark.parametrize(("received", "days", "expected"), [
    # Spring Festival 2024: 10–17 Feb off; Sun 4 Feb and Sun 18 Feb were working days.
    # Thu 8 Feb: 9 Feb (1), [10–17 off], Sun 18 Feb (2), Mon 19 Feb (3).
    (china(2024, 2, 8), 3, end_of(2024, 2, 19)),
    # Fri 2 Feb: Sat 3 off, Sun 4 Feb make-up (1), 5 (2), 6 (3).
    (china(2024, 2, 2), 3, end_of(2024, 2, 6)),
    # Objection, 5 days from 8 Feb: 9, 18, 19, 20, 21.
    (china(2024, 2, 8), 5, end_of(2024, 2, 21)),
    # Complaint, 15 days from 8 Feb: 9, 18, 19–23 (7), 26–29 (11), 1 Mar (12), 4, 5, 6 Mar (15).
    (china(2024, 2, 8), 15, end_of(2024, 3, 6)),
    # National Day 2024: 1–7 Oct off; Sun 29 Sep and Sat 12 Oct were working days.
    # Fri 27 Sep: Sat 28 off, Sun 29 (1), Mon 30 (2), [1–7 off], Tue 8 Oct (3).
    (china(2024, 9, 27), 3, end_of(2024, 10, 8)),
    # Mon 30 Sep, 5 days: 8, 9, 10, 11 Oct, Sat 12 Oct make-up (5).
    (china(2024, 9, 30), 5, end_of(2024, 10, 12)),
    # The day of receipt never counts, whatever the hour; it is the China-time day: 00:30 on
    # 8 Feb in China is still 7 Feb in UTC, and must count from 8 Feb.
    (china(2024, 2, 8, 0, 30), 3, end_of(2024, 2, 19)),
    (china(2024, 2, 7, 23, 50), 3, end_of(2024, 2, 18)),
])
def test_deadline_counts_working_days_after_the_day_received(county, received, days, expected):
    assert WorkCalendar(COUNTY).deadline(received, days) == expected


def test_a_case_received_before_the_spring_festival_is_due_after_it(county, clerk):
    inquiry = record(clerk, at=china(2024, 2, 8, 15))
    complaint = record(clerk, at=china(2024, 2, 8, 15), kind="complaint", subject="村干部优亲厚友")
    assert due_local(inquiry) == end_of(2024, 2, 19) and inquiry.due_days == 3
    assert due_local(complaint) == end_of(2024, 3, 6) and complaint.due_days == 15
    assert inquiry.due_at.tzinfo is not None and inquiry.due_at.utcoffset().total_seconds() == 0  # stored as UTC


def test_working_days_between(county):
    cal = WorkCalendar(COUNTY)
    assert cal.working_days_between(date(2024, 2, 8), date(2024, 2, 8)) == 0
    assert cal.working_days_between(date(2024, 2, 8), date(2024, 2, 19)) == 3
    assert cal.working_days_between(date(2024, 9, 27), date(2024, 10, 12)) == 7  # 29, 30 Sep, 8–12 Oct


# ---------------------------------------------------------------- years no calendar covers


def test_a_year_without_calendar_is_reckoned_provisionally(county, clerk):
    """2030: neither the package nor the county knows it; the statutory holidays and the week
    decide, and the deadline says it is provisional."""
    assert not package_covers(2030)
    cal = WorkCalendar(COUNTY)
    # Labour Day 2030 (Wed 1 May, Thu 2 May) is statutory; Tue 30 Apr, 3 days: 3 May (1), 6 (2), 7 (3).
    due = cal.reckon(china(2030, 4, 30), 3)
    assert due.provisional and due.at == end_of(2030, 5, 7)
    assert not cal.is_workday(date(2030, 5, 1)) and not cal.is_workday(date(2030, 5, 2))
    case = record(clerk, at=china(2030, 4, 30))
    assert case.due_provisional and due_local(case) == end_of(2030, 5, 7)


def test_a_deadline_running_into_an_uncovered_year_is_taken_and_provisional(county, clerk):
    # The package knows 2026 but not 2027: a complaint on 30 Dec 2026 is due in 2027.
    assert package_covers(2026) and not package_covers(2027)
    # An inquiry on Wed 30 Dec 2026: 31 Dec (1), [1 Jan 2027 New Year, 2–3 weekend], Mon 4 Jan (2), Tue 5 (3).
    case = record(clerk, at=china(2026, 12, 30))
    assert case.due_provisional and due_local(case) == end_of(2027, 1, 5)
    # Received earlier in December it is due within 2026: final, not provisional.
    early = record(clerk, at=china(2026, 12, 21))
    assert due_local(early) == end_of(2026, 12, 24) and not early.due_provisional


def test_spring_festival_of_an_uncovered_year_comes_from_the_lunar_calendar(county):
    """Spring Festival 2027: eve Fri 5 Feb, 6–8 Feb, and the weekdays given for the weekend
    days (9, 10 Feb); the first working day after is Thu 11 Feb."""
    cal = WorkCalendar(COUNTY)
    for day in (5, 8, 9, 10):
        assert not cal.is_workday(date(2027, 2, day)), day
    assert cal.is_workday(date(2027, 2, 4)) and cal.is_workday(date(2027, 2, 11))
    assert cal.reckon(china(2027, 2, 4), 1) == (end_of(2027, 2, 11).astimezone(UTC), True)


def test_provisional_deadlines_are_recomputed_when_the_year_is_loaded(county, clerk, admin_user, db):
    case = record(clerk, at=china(2026, 12, 30))
    done = record(clerk, at=china(2026, 12, 30), subject="已答复的一件")
    from subsidy.cases import service

    with time_machine.travel(china(2027, 1, 5, 10), tick=False):
        service.reply_case(clerk, done.id, "已答复")
    db.session.commit()
    assert case.due_provisional and due_local(case) == end_of(2027, 1, 5)
    # The State Council's real 2027 arrangement (here: 4 Jan off too, Sat 9 Jan worked).
    book = calendar_file([("2027-01-01", "休息日", "元旦"), ("2027-01-04", "休息日", "元旦"),
                          ("2027-01-09", "工作日", "调休")])
    result = deadlines.import_calendar(admin_user, book, "2027.xlsx", 2027)
    db.session.commit()
    assert result.ok and result.recomputed.changed == 2
    db.session.refresh(case)
    db.session.refresh(done)
    assert not case.due_provisional and due_local(case) == end_of(2027, 1, 6)
    # The completed one is judged against its final deadline, and says so on its timeline.
    assert not done.due_provisional and not done.completed_late
    notes = db.session.scalars(sa.select(CaseEvent.note).where(CaseEvent.case_id == case.id,
                                                               CaseEvent.kind == EventKind.deadline_changed)).all()
    assert notes == ["工作日历调整：办理期限由 2027-01-05 改为 2027-01-06"]


def test_the_daily_job_makes_deadlines_final_once_the_package_knows_the_year(county, clerk, db, monkeypatch):
    from subsidy.cases import calendar
    from subsidy.cases.escalation import run_escalation

    case = record(clerk, at=china(2026, 12, 30))
    db.session.commit()
    assert case.due_provisional
    # An upgraded chinese_calendar that knows 2027 (its arrangement: Mon 4 Jan is a working day).
    monkeypatch.setattr(calendar, "package_covers", lambda year: year <= 2027)
    monkeypatch.setattr(calendar.chinese_calendar, "is_workday",
                        lambda day: day.weekday() < 5 and day != date(2027, 1, 1))
    with time_machine.travel(china(2026, 12, 31, 1), tick=False):
        result = run_escalation()
    db.session.commit()
    db.session.refresh(case)
    assert result.deadlines_recomputed == 1
    assert not case.due_provisional and due_local(case) == end_of(2027, 1, 5)
    assert case.state.value == "received"  # not overdue, not escalated


def test_the_admin_is_told_before_an_uncovered_year_begins(county, admin_user, login_as):
    with time_machine.travel(china(2026, 11, 20), tick=False):
        client = login_as("county_admin", COUNTY)
        page = client.get("/cases/").get_data(as_text=True)
        assert "2027 年的工作日历尚未设置" in page and "暂定" in page and "请请" not in page
        calendar = client.get("/cases/calendar?year=2027").get_data(as_text=True)
        assert "未设置" in calendar and "2027-02-05 农历除夕" in calendar
    with time_machine.travel(china(2026, 6, 1), tick=False):
        client = login_as("county_admin", COUNTY)
        assert "工作日历尚未设置" not in client.get("/cases/").get_data(as_text=True)


def test_the_calendar_template_is_prefilled_with_the_statutory_holidays(county, login_as):
    from openpyxl import load_workbook

    client = login_as("county_admin", COUNTY)
    resp = client.get("/cases/calendar/template.xlsx?year=2027")
    assert resp.status_code == 200
    rows = list(load_workbook(io.BytesIO(resp.data)).active.iter_rows(values_only=True))
    assert rows[0] == ("日期", "类型", "说明")
    assert ("2027-02-05", "休息日", "农历除夕") in rows and ("2027-10-01", "休息日", "国庆节") in rows
    assert login_as("village_clerk").get("/cases/calendar/template.xlsx?year=2027").status_code == 403


# ---------------------------------------------------------------- the county's overrides


def test_an_override_wins_over_the_package(county, admin_user):
    cal = WorkCalendar(COUNTY)
    assert cal.is_workday(date(2024, 2, 19))
    deadlines.set_calendar_day(admin_user, "2024-02-19", False, "县里调整")
    deadlines.set_calendar_day(admin_user, date(2024, 2, 17), True, "加班")
    cal = WorkCalendar(COUNTY)
    assert not cal.is_workday(date(2024, 2, 19))
    assert cal.is_workday(date(2024, 2, 17))
    # 9 (1), Sat 17 (2, the override), Sun 18 (3)
    assert cal.deadline(china(2024, 2, 8), 3) == end_of(2024, 2, 18)
    # Another county is not affected.
    assert WorkCalendar("640402").is_workday(date(2024, 2, 19))


def test_calendar_change_recomputes_open_deadlines_only(county, clerk, admin_user, db):
    open_case = record(clerk, at=china(2024, 2, 8))
    done = record(clerk, at=china(2024, 2, 8), subject="另一件")
    from subsidy.cases import service

    with time_machine.travel(china(2024, 2, 9), tick=False):
        service.reply_case(clerk, done.id, "已答复：3 月初发放。")
    db.session.commit()
    old_done_due = done.due_at

    result = deadlines.set_calendar_day(admin_user, "2024-02-19", False, "县里调整")
    db.session.commit()
    assert result.changed == 1
    db.session.refresh(open_case)
    db.session.refresh(done)
    assert due_local(open_case) == end_of(2024, 2, 20)
    assert done.due_at == old_done_due
    event = db.session.scalar(sa.select(CaseEvent).where(CaseEvent.case_id == open_case.id,
                                                         CaseEvent.kind == EventKind.deadline_changed))
    assert "2024-02-19" in event.note and "2024-02-20" in event.note

    deadlines.delete_calendar_day(admin_user, "2024-02-19")
    db.session.commit()
    db.session.refresh(open_case)
    assert due_local(open_case) == end_of(2024, 2, 19)


def test_only_the_county_admin_edits_the_calendar(county, clerk):
    with pytest.raises(PermissionDenied):
        deadlines.set_calendar_day(clerk, "2024-02-19", False, "")


# ---------------------------------------------------------------- a new year from .xlsx


def calendar_file(rows):
    return make_xlsx(["日期", "类型", "说明"], rows)


def test_importing_a_year_covers_it(county, admin_user, clerk, db):
    book = calendar_file([
        (datetime(2030, 1, 1), "休息日", "元旦"),
        ("2030-02-02", "工作日", "春节调休"),
        ("2030/2/4", "休息日", "春节"),
        ("2030年2月5日", "休息日", "春节"),
    ])
    result = deadlines.import_calendar(admin_user, book, "2030年日历.xlsx", 2030)
    db.session.commit()
    assert result.ok and result.restdays == 3 and result.workdays == 1
    cal = WorkCalendar(COUNTY)
    assert cal.covers(2030)
    assert not cal.is_workday(date(2030, 1, 1))       # a Tuesday, listed as a holiday
    assert cal.is_workday(date(2030, 1, 2))           # a Wednesday: the week decides
    assert cal.is_workday(date(2030, 2, 2))           # a Saturday listed as a make-up day
    assert not cal.is_workday(date(2030, 2, 3))       # an ordinary Sunday
    # Fri 1 Feb 2030, 3 days: Sat 2 Feb (1, make-up), [Sun 3, Mon 4, Tue 5 off], Wed 6 (2), Thu 7 (3)
    case = record(clerk, at=china(2030, 2, 1))
    assert due_local(case) == end_of(2030, 2, 7)


def test_a_bad_calendar_file_writes_nothing(county, admin_user, db):
    book = calendar_file([
        ("2030-01-01", "休息日", "元旦"),
        ("2031-01-01", "休息日", "元旦"),       # another year
        ("2030-01-01", "休息日", "重复"),       # repeated
        ("2030-13-01", "休息日", ""),           # no such date
        ("2030-02-04", "放半天", ""),           # unknown type
    ])
    result = deadlines.import_calendar(admin_user, book, "2030.xlsx", 2030)
    db.session.commit()
    assert not result.ok
    assert sorted(e["row"] for e in result.errors.items) == [3, 4, 5, 6]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WorkCalendarDay)) == 0
    assert not WorkCalendar(COUNTY).covers(2030)


def test_calendar_pages_for_the_admin(county, login_as, db):
    client = login_as("county_admin", COUNTY)
    assert client.get("/cases/calendar?year=2030").status_code == 200
    resp = client.post("/cases/calendar/import", data={
        "i-year": "2030", "i-file": (calendar_file([("2030-01-01", "休息日", "元旦")]), "2030.xlsx")},
        content_type="multipart/form-data")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert WorkCalendar(COUNTY).covers(2030)
    page = client.get("/cases/calendar?year=2030").get_data(as_text=True)
    assert "元旦" in page and "已由本县设置完整" in page

    bad = client.post("/cases/calendar/day", data={"d-day": "明天", "d-is_workday": "0", "d-note": ""})
    assert bad.status_code == 422 and "日期格式不正确" in bad.get_data(as_text=True)
    ok = client.post("/cases/calendar/day", data={"d-day": "2030-05-06", "d-is_workday": "0", "d-note": "县庆"})
    assert ok.status_code == 302
    assert not WorkCalendar(COUNTY).is_workday(date(2030, 5, 6))

    resp = client.post("/cases/settings",
                       data={"s-inquiry_days": "5", "s-complaint_days": "20", "s-objection_days": "7"})
    assert resp.status_code == 302
    assert deadlines.case_days(COUNTY) == {"inquiry": 5, "complaint": 20, "objection": 7}
    bad = client.post("/cases/settings",
                      data={"s-inquiry_days": "0", "s-complaint_days": "20", "s-objection_days": "7"})
    assert bad.status_code == 422


def test_county_limits_apply_to_new_cases(county, admin_user, clerk, db):
    deadlines.update_case_days(admin_user, inquiry_days=5, complaint_days=10, objection_days=5)
    case = record(clerk, at=china(2024, 2, 8))
    assert case.due_days == 5 and due_local(case) == end_of(2024, 2, 21)


def test_other_roles_cannot_open_the_calendar(county, login_as):
    client = login_as("township_reviewer", "640425100")
    assert client.get("/cases/calendar").status_code == 403


def test_the_calendar_from_the_command_line(county, runner, db, tmp_path):
    template = tmp_path / "2027.xlsx"
    result = runner.invoke(args=["cases", "calendar-template", "2027", str(template)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["cases", "calendar-import", "640425", "2027", str(template)])
    assert result.exit_code == 0, result.output
    assert "rest day(s)" in result.output
    db.session.rollback()
    assert WorkCalendar(COUNTY).covers(2027)
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(calendar_file([("2028-01-01", "休息日", "元旦")]).getvalue())
    result = runner.invoke(args=["cases", "calendar-import", "640425", "2027", str(bad)])
    assert result.exit_code == 1 and "不在 2027 年" in result.output
    assert runner.invoke(args=["cases", "calendar-import", "999999", "2027", str(template)]).exit_code == 1
