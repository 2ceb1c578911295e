"""Benefit policies: the county admin writes, previews, publishes, withdraws; text is
sanitised; attachments are checked and served by the rules; `policies_published` counts."""
from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine

from subsidy.audit.models import AuditEvent
from subsidy.notify.models import Message
from subsidy.policies import service
from subsidy.policies.models import Policy, PolicyAttachment, PolicyStatus
from tests.factories import HouseholdFactory, OptOutFactory, PolicyFactory

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture(autouse=True)
def uploads(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(tmp_path / "uploads"))
    return tmp_path / "uploads"


def _new(api, **kw):
    body = {"title": "2017年耕地地力保护补贴政策", "body": "按承包地面积补贴。", "region_code": "640425", **kw}
    return api.post("/api/v1/policies", json=body)


# --- the API contract ------------------------------------------------------------------------

def test_api_create_publish_and_list(api_as, db):
    api = api_as("county_admin")
    resp = _new(api, interpretation="每亩 105 元", category="planting")
    assert resp.status_code == 201, resp.json
    assert resp.json["status"] == "draft" and isinstance(resp.json["id"], int)
    pid = resp.json["id"]
    resp = api.post(f"/api/v1/policies/{pid}/publish")
    assert resp.status_code == 200, resp.json
    assert resp.json == {"id": pid, "status": "published"}
    policy = db.session.get(Policy, pid)
    assert policy.published_at is not None and policy.published_by == api.user.id
    listed = api.get("/api/v1/policies?status=published").json
    assert listed["total"] == 1 and listed["items"][0]["id"] == pid
    actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.object_type == "policy")).all()
    assert actions == ["policy.create", "policy.publish"]


def test_only_the_county_admin_writes_policies(api_as):
    for role in ("village_clerk", "township_reviewer", "county_reviewer", "supervisor"):
        resp = _new(api_as(role))
        assert resp.status_code == 403, role
    assert api_as("village_clerk").get("/api/v1/policies").status_code == 200


def test_validation_names_each_bad_field(api_as):
    api = api_as("county_admin")
    resp = _new(api, title="", body="", region_code="999999", effective_from="2017-05-01",
                effective_to="2017-01-01")
    assert resp.status_code == 400
    fields = resp.json["error"]["fields"]
    assert {"title", "body", "region_code", "effective_to"} <= set(fields)
    assert _new(api, region_code="12").status_code == 400


def test_transition_table_refuses_what_it_does_not_list(api_as, db):
    api = api_as("county_admin")
    pid = _new(api).json["id"]
    # draft: cannot be withdrawn
    assert api.post(f"/api/v1/policies/{pid}/withdraw", json={"reason": "x"}).status_code == 409
    assert api.post(f"/api/v1/policies/{pid}/publish").status_code == 200
    # published: cannot be published again, nor edited
    resp = api.post(f"/api/v1/policies/{pid}/publish")
    assert resp.status_code == 409 and resp.json["error"]["code"] == "invalid_transition"
    with pytest.raises(Exception, match="不能再修改"):
        service.update_policy(api.user, pid, title="新标题", body="x", region_code="640425")
    db.session.rollback()
    # withdraw needs a reason, then is final
    assert api.post(f"/api/v1/policies/{pid}/withdraw", json={"reason": "  "}).status_code == 400
    resp = api.post(f"/api/v1/policies/{pid}/withdraw", json={"reason": "文件已废止"})
    assert resp.status_code == 200 and resp.json["status"] == "withdrawn"
    assert api.post(f"/api/v1/policies/{pid}/publish").status_code == 409
    assert api.post(f"/api/v1/policies/{pid}/withdraw", json={"reason": "again"}).status_code == 409
    policy = db.session.get(Policy, pid)
    assert policy.withdrawn_reason == "文件已废止" and policy.withdrawn_by == api.user.id


def test_another_countys_policy_does_not_exist_for_staff(api_as, db):
    from subsidy.regions.models import Level
    from tests.factories import RegionFactory

    RegionFactory(code="640402", name="原州区", level=Level.county)
    other = PolicyFactory(county_code="640402", region_code="640402")
    db.session.commit()
    api = api_as("county_admin")
    assert api.get(f"/api/v1/policies/{other.id}").status_code == 404
    assert api.post(f"/api/v1/policies/{other.id}/publish").status_code == 404


# --- sanitised text ----------------------------------------------------------------------------

HOSTILE = ("# 通知\n\n<script>alert('x')</script>\n\n<img src=x onerror=alert(1)>\n\n"
           "[点我](javascript:alert(2)) <a href=\"JAVASCRIPT:alert(3)\">链接</a>\n\n"
           "<div onclick=\"alert(4)\" style=\"background:url(http://evil.example/x)\">正文</div>\n\n"
           "![外部图片](http://evil.example/track.png) <iframe src=\"http://evil.example\"></iframe>")


class _Tags(HTMLParser):
    """Every tag and attribute a browser would build from the page."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))


def _tags(html: str) -> list[tuple[str, dict]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def test_script_and_handlers_never_reach_a_page(login_as, client, db):
    admin = login_as("county_admin")
    policy = PolicyFactory(body=HOSTILE, interpretation="<svg onload=alert(5)>解读</svg>")
    db.session.commit()
    preview = admin.get(f"/policies/{policy.id}")
    assert preview.status_code == 200
    service.publish_policy(admin.user, policy.id)
    db.session.commit()
    public = client.get(f"/m/policies/{policy.id}")
    assert public.status_code == 200
    for html in (preview.get_data(as_text=True), public.get_data(as_text=True)):
        # the only scripts are the app's own files (static/js), never one from the policy's text
        assert all('src="/static/js/' in tag for tag in re.findall(r"<script[^>]*>", html, re.I))
        assert "alert('x')" not in html
        assert "onerror" not in html and "onclick" not in html and "onload" not in html
        assert "<iframe" not in html.lower() and "<svg" not in html.lower()
        for tag, attrs in _tags(html):
            assert tag not in {"iframe", "object", "embed", "svg"}
            assert tag != "script" or attrs.get("src", "").startswith("/static/js/")
            for name, value in attrs.items():
                assert not name.startswith("on") or (tag == "button" and name == "onclick"), (tag, name)
                assert not value.strip().lower().startswith("javascript:"), (tag, name, value)
                assert "evil.example" not in value, (tag, name, value)
        assert "正文" in html and "通知" in html
    public_tags = _tags(public.get_data(as_text=True))
    assert all(not n.startswith("on") for _, attrs in public_tags for n in attrs)  # the farmers' page: none at all


# --- staff pages -------------------------------------------------------------------------------

def test_admin_writes_previews_and_publishes_through_pages(login_as, db):
    admin = login_as("county_admin")
    resp = admin.post("/policies/new", data={"title": "农机购置补贴", "category": "machinery",
                                             "region_code": "640425100", "body": "**购机补贴**",
                                             "interpretation": "买农机补三成"})
    assert resp.status_code == 302
    policy = db.session.scalar(sa.select(Policy))
    assert policy.status is PolicyStatus.draft and policy.region_code == "640425100"
    page = admin.get(f"/policies/{policy.id}").get_data(as_text=True)
    assert "<strong>购机补贴</strong>" in page and "草稿" in page
    listing = admin.get("/policies/?status=draft").get_data(as_text=True)
    assert "农机购置补贴" in listing
    resp = admin.post(f"/policies/{policy.id}/edit", data={"title": "农机购置补贴（修订）", "category": "machinery",
                                                           "region_code": "640425100", "body": "新正文"})
    assert resp.status_code == 302
    confirm = admin.get(f"/policies/{policy.id}/publish").get_data(as_text=True)
    assert "确认发布" in confirm and "data-confirm=" in confirm
    resp = admin.post(f"/policies/{policy.id}/publish", data={"step": "publish"})
    assert resp.status_code == 302
    db.session.expire_all()
    assert policy.status is PolicyStatus.published and policy.title == "农机购置补贴（修订）"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 0  # no broadcast asked
    resp = admin.post(f"/policies/{policy.id}/withdraw", data={"reason": ""})
    db.session.expire_all()
    assert policy.status is PolicyStatus.published
    admin.post(f"/policies/{policy.id}/withdraw", data={"reason": "已被新文件替代"})
    db.session.expire_all()
    assert policy.status is PolicyStatus.withdrawn
    assert "农机购置补贴（修订）" in admin.get("/policies/?status=withdrawn").get_data(as_text=True)
    assert "已撤回" in admin.get(f"/policies/{policy.id}").get_data(as_text=True)


def test_village_clerk_reads_but_cannot_write(login_as, db):
    clerk = login_as("village_clerk")
    PolicyFactory()
    db.session.commit()
    assert clerk.get("/policies/").status_code == 200
    assert clerk.post("/policies/new", data={"title": "x", "body": "y", "region_code": "640425100201",
                                             "category": "other"}).status_code == 403


def test_publishing_with_a_broadcast_shows_the_cost_then_queues_one_sms_per_household(login_as, db):
    admin = login_as("county_admin")
    inside = HouseholdFactory.create_batch(3, region_code="640425100201")
    HouseholdFactory(region_code="640425100202", phone=None)           # no phone: not a recipient
    blocked = HouseholdFactory(region_code="640425100202")
    OptOutFactory(phone=blocked.phone)                                  # opted out: not a recipient
    HouseholdFactory(region_code="640425101201")                        # another township
    policy = PolicyFactory(region_code="640425100")
    db.session.commit()
    page = admin.post(f"/policies/{policy.id}/publish", data={"step": "preview", "broadcast": "y",
                                                              "broadcast_body": "新政策已发布，请查看"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "【彭阳县惠农】新政策已发布，请查看" in html
    assert "每条 1 段" in html and "收件农户 3 户" in html and "共计 3 段" in html
    db.session.expire_all()
    assert db.session.get(Policy, policy.id).status is PolicyStatus.draft   # a preview publishes nothing
    resp = admin.post(f"/policies/{policy.id}/publish", data={"step": "publish", "broadcast": "y",
                                                              "broadcast_body": "新政策已发布，请查看"})
    assert resp.status_code == 302
    rows = db.session.execute(sa.select(Message.household_id, Message.body, Message.template)).all()
    assert sorted(r[0] for r in rows) == sorted(h.id for h in inside)
    assert {r[1] for r in rows} == {"【彭阳县惠农】新政策已发布，请查看"} and {r[2] for r in rows} == {"broadcast"}


def test_api_publish_with_broadcast(api_as, db):
    api = api_as("county_admin")
    HouseholdFactory.create_batch(2, region_code="640425101202")
    pid = _new(api, region_code="640425101202").json["id"]
    resp = api.post(f"/api/v1/policies/{pid}/publish", json={"broadcast_body": "村里有新政策"})
    assert resp.status_code == 200
    assert resp.json["status"] == "published" and resp.json["broadcast"]["messages"] == 2


# --- attachments -------------------------------------------------------------------------------

def _upload(client, pid, data: bytes, name: str):
    return client.post(f"/policies/{pid}/attachments", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_attachment_is_checked_stored_under_a_random_name_and_served_by_the_rules(login_as, client, db, uploads):
    admin = login_as("county_admin")
    policy = PolicyFactory()
    db.session.commit()
    assert _upload(admin, policy.id, PDF, "文件.pdf").status_code == 302
    assert _upload(admin, policy.id, PNG, "照片.PNG").status_code == 302
    att, png = db.session.scalars(sa.select(PolicyAttachment).order_by(PolicyAttachment.id)).all()
    assert png.content_type == "image/png" and png.stored_name.endswith(".png")
    assert att.content_type == "application/pdf" and att.filename == "文件.pdf" and att.size == len(PDF)
    stored = Path(uploads) / "policies" / att.stored_name
    assert stored.read_bytes() == PDF and "文件" not in att.stored_name and len(att.stored_name) >= 32
    url = f"/m/policies/{policy.id}/files/{att.id}"
    # a draft's file: county staff may preview it, nobody else can see it exists
    assert client.get(url).status_code == 404
    assert admin.get(url).status_code == 200
    other_county_clerk = login_as("village_clerk")
    assert other_county_clerk.get(url).status_code == 200  # same county: may preview
    service.publish_policy(admin.user, policy.id)
    db.session.commit()
    resp = client.get(url)
    assert resp.status_code == 200 and resp.data == PDF
    assert resp.headers["Content-Type"] == "application/pdf"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "script" not in resp.headers["Content-Security-Policy"]
    image = client.get(f"/m/policies/{policy.id}/files/{png.id}")
    assert image.status_code == 200 and image.mimetype == "image/png" and image.data == PNG
    assert "sandbox" in image.headers["Content-Security-Policy"]
    # published: no more changes to its files
    assert _upload(admin, policy.id, PNG, "b.png").status_code == 409
    assert client.get(f"/m/policies/{policy.id}/files/{att.id + 99}").status_code == 404


@pytest.mark.parametrize(("data", "name", "message"), [
    (b"MZ\x90\x00 this is an exe", "notice.pdf", "只能上传 PDF、PNG 或 JPG"),
    (PNG, "photo.pdf", "扩展名与内容不符"),
    (b"<html><script>alert(1)</script>", "x.html", "只能上传 PDF、PNG 或 JPG"),
    (b"", "empty.pdf", "文件为空"),
])
def test_attachment_content_is_checked(login_as, db, data, name, message):
    admin = login_as("county_admin")
    policy = PolicyFactory()
    db.session.commit()
    resp = _upload(admin, policy.id, data, name)
    if data:
        assert resp.status_code == 422
        assert message in resp.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PolicyAttachment)) == 0


def test_attachment_size_limit(app, login_as, db, monkeypatch):
    monkeypatch.setitem(app.config, "POLICY_ATTACHMENT_MAX_BYTES", 1024)
    admin = login_as("county_admin")
    policy = PolicyFactory()
    db.session.commit()
    resp = _upload(admin, policy.id, PDF + b"0" * 2000, "big.pdf")
    assert resp.status_code == 422 and "文件太大" in resp.get_data(as_text=True)
    assert _upload(admin, policy.id, PDF, "small.pdf").status_code == 302


# --- figures -----------------------------------------------------------------------------------

def _published(region_code: str, at: datetime, status=PolicyStatus.published, **kw) -> Policy:
    return PolicyFactory(region_code=region_code, status=status, published_at=at,
                         withdrawn_reason="x" if status is PolicyStatus.withdrawn else None, **kw)


def test_policies_published_counts_the_year_and_the_regions_above_and_below(county, db):
    t = datetime(2017, 6, 1, tzinfo=UTC)
    _published("640425", t)                        # county-wide: applies everywhere
    _published("640425100", t)                     # township 100 and its villages
    _published("640425100201", t)                  # one village
    _published("640425101", t)                     # the other township
    _published("640425", t, status=PolicyStatus.withdrawn)  # published in 2017, withdrawn later: counts
    PolicyFactory(region_code="640425")            # draft: never counts
    _published("640425", datetime(2016, 12, 31, 15, 59, tzinfo=UTC))  # 2016-12-31 23:59 in China
    _published("640425", datetime(2017, 12, 31, 16, 0, tzinfo=UTC))   # 2018-01-01 00:00 in China
    db.session.commit()
    assert service.policies_published("640425", 2017) == 5
    assert service.policies_published("640425100", 2017) == 4       # county, itself, its village, withdrawn
    assert service.policies_published("640425100201", 2017) == 4    # county, township, itself, withdrawn
    assert service.policies_published("640425100202", 2017) == 3    # not the sibling village's
    assert service.policies_published("640425101201", 2017) == 3
    assert service.policies_published("640425", 2016) == 1
    assert service.policies_published("640425", 2018) == 1


def test_publishing_records_date_in_the_year_it_happens(api_as, db):
    api = api_as("county_admin")
    pid = _new(api).json["id"]
    with time_machine.travel(datetime(2017, 3, 5, 2, 0, tzinfo=UTC), tick=False):
        api.post(f"/api/v1/policies/{pid}/publish")
    assert service.policies_published("640425", 2017) == 1
    assert db.session.get(Policy, pid).published_at == datetime(2017, 3, 5, 2, 0, tzinfo=UTC)


def test_a_refused_edit_redraws_the_policy_as_it_is(login_as, db):
    """Issue 16 (a refusal must not show what the refused action would have left): a bad date
    keeps what was typed beside the field and changes nothing; an edit of a policy published
    meanwhile goes back to the policy's page, which shows it published, with the reason."""
    admin = login_as("county_admin")
    policy = PolicyFactory(title="良种补贴", status=PolicyStatus.draft)
    db.session.commit()
    form = {"title": "良种补贴（修订）", "category": "other", "region_code": "640425", "body": "正文",
            "effective_from": "2026-13-01"}
    resp = admin.post(f"/policies/{policy.id}/edit", data=form)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422 and 'value="良种补贴（修订）"' in page
    db.session.expire_all()
    assert db.session.get(Policy, policy.id).title == "良种补贴"

    assert admin.post(f"/policies/{policy.id}/publish", data={"step": "publish"}).status_code == 302
    resp = admin.post(f"/policies/{policy.id}/edit", data={**form, "effective_from": ""})
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/policies/{policy.id}")
    page = admin.get(resp.headers["Location"]).get_data(as_text=True)
    assert "政策已发布，不能再修改" in page
    assert "已发布" in page and "良种补贴（修订）" not in page
    db.session.expire_all()
    assert db.session.get(Policy, policy.id).title == "良种补贴"
