"""The audit log as a supervisor reads it: Chinese actions and objects, links to the objects'
pages, changed fields as 字段: 原值 → 新值, filters by action type, and the audited 校验 button."""
from __future__ import annotations

import sqlalchemy as sa

from subsidy.audit import labels
from subsidy.audit.models import AuditEvent
from subsidy.audit.service import record
from tests.factories import HouseholdFactory, make_user


def test_every_action_the_code_writes_has_a_chinese_label():
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[1] / "subsidy"
    written = re.compile(r"audit\.record(?:_many)?\(\s*[^,()]+,\s*\[?\(?\"([a-z_]+\.[a-z_]+)\"")
    codes = set()
    for path in root.rglob("*.py"):
        codes |= set(written.findall(path.read_text()))
    codes |= {f"filing.{a}" for a in ("publicize", "withdraw", "submit", "approve", "return", "pay")}
    assert codes and codes <= set(labels.ACTIONS), sorted(codes - set(labels.ACTIONS))
    assert all(any(code.startswith(area) for area in labels.AREAS) for code in labels.ACTIONS)


def test_a_row_reads_in_chinese_with_a_link_and_the_change(login_as, db, county):
    admin = make_user("county_admin")
    household = HouseholdFactory(region_code="640425100201", phone="13909540001")
    record(admin, "household.update", "household", household.id, region_code="640425100201",
           before={"phone": "13909540001"}, after={"phone": "13909540002"})
    db.session.commit()
    supervisor = login_as("supervisor", "640425")
    html = supervisor.get("/audit/").get_data(as_text=True)
    assert "修改农户信息" in html and f'href="/households/{household.id}"' in html
    assert "<strong>手机号码</strong>：13909540001 → 13909540002" in html
    filtered = supervisor.get("/audit/?action=household.").get_data(as_text=True)
    row = 'title="household.update">修改农户信息</td>'
    assert row in html and row in filtered
    assert row not in supervisor.get("/audit/?action=user.").get_data(as_text=True)
    assert '<option value="household." selected>' in filtered


def test_the_verify_button_reports_in_chinese_and_is_audited(login_as, db, county, app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "AUDIT_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    admin = make_user("county_admin")
    for i in range(3):
        record(admin, "household.update", "household", i, region_code="640425100201", after={"phone": str(i)})
    db.session.commit()
    supervisor = login_as("supervisor", "640425")
    db.session.execute(sa.text("UPDATE audit_events SET detail = '{}' WHERE id = 2"))
    db.session.commit()
    html = supervisor.post("/audit/verify").get_data(as_text=True)
    assert "第 2 条起不一致" in html and "内容与其签名不符" in html
    assert 'action="/audit/"' in html   # the filters, from the page the button drew
    db.session.rollback()
    verified = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "audit.verify")).one()
    assert verified.actor == supervisor.user.username
    assert "校验审计日志" in supervisor.get("/audit/").get_data(as_text=True)
