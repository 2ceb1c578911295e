"""The read phase (subsidy.common.database.read_phase): an import parses its file holding no
write lock, takes it only to write, and checks again at write time what another writer may have
changed in between."""
from __future__ import annotations

import logging
import sqlite3
from datetime import timedelta

import pytest
import sqlalchemy as sa

from subsidy.common.database import read_phase
from subsidy.common.timeutil import utcnow
from subsidy.extensions import db
from subsidy.households.models import Household
from subsidy.notify.models import OptOut
from subsidy.payments.lifecycle import PAYMENTS, PaymentEvent
from subsidy.payments.models import Payment
from tests import hostile_xlsx as hostile
from tests.factories import HouseholdFactory, valid_id_number
from tests.test_import_limits import IMPORTS


def _sqlite_path() -> str | None:
    url = db.engine.url
    return url.database if url.get_backend_name() == "sqlite" else None


def needs_sqlite():
    if _sqlite_path() is None:
        pytest.skip("PostgreSQL takes no database-wide write lock: nothing about locking changes there")


# ---------------------------------------------------------------- the mechanism


def test_the_read_phase_cannot_write(app, county):
    with read_phase():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Household)) == 0
        with pytest.raises(sa.exc.DBAPIError) as failed:
            db.session.execute(sa.insert(OptOut.__table__).values(phone="13800000000", source="staff", note="",
                                                                  created_at=utcnow()))
        assert "read" in str(failed.value).lower()  # "readonly database" / "read-only transaction"
    db.session.execute(sa.insert(OptOut.__table__).values(phone="13800000000", source="staff", note="",
                                                          created_at=utcnow()))
    db.session.commit()
    assert db.session.get(OptOut, "13800000000") is not None


def test_earlier_writes_are_never_committed_by_the_read_phase(app, county, caplog, monkeypatch):
    """A caller that wrote before the read phase: the phase runs in that transaction (logged),
    which it does not end; a rollback after still takes the write back."""
    from subsidy.regions.models import Region

    # (the suite's migrations ran Alembic's fileConfig, which disables loggers made before)
    monkeypatch.setattr(logging.getLogger("subsidy.database"), "disabled", False)

    HouseholdFactory()
    db.session.flush()
    with caplog.at_level(logging.WARNING, logger="subsidy.database"), read_phase():
        db.session.execute(sa.select(Household.id)).all()
    db.session.execute(sa.update(Region).where(Region.code == "640425").values(name="改名"))  # core: no ORM state
    with read_phase():
        pass
    assert "after the transaction wrote" in caplog.text
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Household)) == 0
    assert db.session.get(Region, "640425").name == "彭阳县"


def test_other_writers_write_during_the_read_phase_and_the_write_phase_sees_them(app, county):
    needs_sqlite()
    db.session.execute(sa.select(Household.id)).all()  # a transaction under way, as a request's is
    with read_phase():
        db.session.execute(sa.select(Household.id)).all()
        assert other_connection_writes("13800000001") is True
    # The write phase begins afresh: it sees the row the other connection committed.
    assert db.session.get(OptOut, "13800000001") is not None
    assert other_connection_writes("13800000002") != True  # noqa: E712 (now this session holds the lock)
    db.session.rollback()


def other_connection_writes(phone: str):
    """Another process's write, through its own sqlite3 connection that does not wait: True,
    or SQLite's answer ("database is locked")."""
    con = sqlite3.connect(_sqlite_path(), timeout=0, isolation_level=None)
    try:
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO sms_opt_outs (phone, source, note, created_at) VALUES (?, 'staff', '', "
                    "'2024-01-01 00:00:00.000000')", (phone,))
        con.execute("COMMIT")
        return True
    except sqlite3.OperationalError as exc:
        return str(exc)
    finally:
        con.close()


# ---------------------------------------------------------------- every import


def _during_parse(monkeypatch, name: str, action) -> list:
    """Run `action` once, in the middle of the import's reading of its rows; returns the list its
    results are appended to."""
    seen: list = []

    def wrap(function):
        def wrapped(*args, **kwargs):
            if len(seen) == 0 and _rows_read[0] >= 1:
                seen.append(action())
            _rows_read[0] += 1
            return function(*args, **kwargs)
        return wrapped

    _rows_read = [0]
    if name == "households":
        from subsidy.households import importer

        monkeypatch.setattr(importer._RowParser, "parse", wrap(importer._RowParser.parse))
    elif name == "watchlist":
        from subsidy.filings import watchlist

        monkeypatch.setattr(watchlist, "_parse_row", wrap(watchlist._parse_row))
    elif name == "bank_results":
        from subsidy.payments import files

        monkeypatch.setattr(files, "ResultRow", wrap(files.ResultRow))
    else:
        from subsidy.cases import deadlines as admin

        monkeypatch.setattr(admin, "parse_day", wrap(admin.parse_day))
    return seen


@pytest.mark.parametrize("name", list(IMPORTS))
def test_no_write_lock_is_held_while_a_file_is_parsed(name, api_as, login_as, county, monkeypatch):
    """In the middle of parsing an upload, another connection takes SQLite's write lock at once
    and writes; the import then writes too."""
    needs_sqlite()
    target = IMPORTS[name](api_as, login_as)
    rows = [target.row(i) for i in range(3)]
    if name == "bank_results":
        rows.append(["合计", "3笔", "", "", "3937.50"])
    seen = _during_parse(monkeypatch, name, lambda: other_connection_writes("13900000009"))
    resp = target.post(hostile.workbook([target.headers, *rows]))
    assert seen == [True], seen
    assert resp.status_code in (200, 302), resp.get_data(as_text=True)[:2000]
    db.session.expire_all()
    assert db.session.get(OptOut, "13900000009") is not None


def _commit_elsewhere(statement) -> bool:
    """`statement` committed by another writer: another thread (as another request would be),
    on another connection of the pool."""
    import threading

    engine, done = db.engine, []

    def write():
        with engine.connect() as conn:
            conn.execute(statement)
            conn.commit()
        done.append(True)

    thread = threading.Thread(target=write)
    thread.start()
    thread.join(60)
    return done == [True]


def test_a_household_registered_elsewhere_during_the_parse_is_found_at_write_time(api_as, login_as, county,
                                                                                   monkeypatch):
    target = IMPORTS["households"](api_as, login_as)
    rows = [target.row(i) for i in range(3)]
    now = utcnow()
    taken = sa.insert(Household.__table__).values(
        region_code="640425100202", head_name="他村农户", id_number=rows[2][1], phone="13812345679",
        payout_account="6231000000000000002", members=2, land_area_mu=3, created_at=now, updated_at=now)
    seen = _during_parse(monkeypatch, "households", lambda: _commit_elsewhere(taken))
    resp = target.post(hostile.workbook([target.headers, *rows]))
    assert seen == [True]
    assert resp.status_code == 400
    assert [(e["row"], e["field"]) for e in resp.json["errors"]] == [(4, "身份证号")]
    assert "县级管理员办理迁户" in resp.json["errors"][0]["message"]
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Household)) == 1  # the other village's only


def test_a_payment_recorded_during_the_parse_is_judged_as_it_then_stands(api_as, login_as, county, monkeypatch):
    """While a result file is parsed, another import records one of its payments as paid with
    another bank reference: the write phase matches against that, not what was read before."""
    target = IMPORTS["bank_results"](api_as, login_as)
    rows = [target.row(i) for i in range(3)] + [["合计", "3笔", "", "", "3937.50"]]
    first = db.session.scalar(sa.select(Payment.id).where(Payment.disbursement_id == rows[0][0]))
    recorded = PAYMENTS.update(PaymentEvent.bank_paid, Payment.__table__.c.id == first, bank_ref="EARLIER",
                               result_at=utcnow() - timedelta(minutes=1))
    seen = _during_parse(monkeypatch, "bank_results", lambda: _commit_elsewhere(recorded))
    resp = target.post(hostile.workbook([target.headers, *rows]))
    assert seen == [True]
    assert resp.status_code == 200, resp.json
    assert [(p["row"], p["kind"]) for p in resp.json["problems"]] == [(2, "conflict")]
    assert resp.json["paid"] == 2
    db.session.expire_all()
    assert db.session.get(Payment, first).bank_ref == "EARLIER"


def test_the_household_import_checks_the_villages_again(api_as, county, monkeypatch):
    """A village taken out of the importer's region between reading and writing fails its rows
    (as if the county's map had been redrawn meanwhile)."""
    from subsidy.households import importer

    api = api_as("county_admin")
    headers = ["户主姓名", "身份证号", "手机号码", "一卡通账号", "家庭人口", "耕地面积(亩)", "村代码"]
    rows = [["甲", valid_id_number(1), "13812345678", "6231000000000000001", 4, 12.5, "640425100201"],
            ["乙", valid_id_number(2), "13812345678", "6231000000000000001", 4, 12.5, "640425100202"]]
    calls = []
    real = importer._villages_in_scope

    def villages(actor):
        calls.append(1)
        found = real(actor)
        return found if len(calls) == 1 else found - {"640425100202"}

    monkeypatch.setattr(importer, "_villages_in_scope", villages)
    resp = api.post("/api/v1/households/import", data={"file": (hostile.workbook([headers, *rows]), "x.xlsx")},
                    content_type="multipart/form-data")
    assert resp.status_code == 400 and len(calls) == 2
    assert [(e["row"], e["field"]) for e in resp.json["errors"]] == [(3, "村代码")]
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Household)) == 0
