"""The farmers' mobile pages (issue 6): home, policies, the village board, "my subsidies", QR
codes, and mobile coverage; a household never sees another's data."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
import qrcode
import sqlalchemy as sa
import time_machine

from subsidy.filings.models import FilingState
from subsidy.policies.models import PolicyCategory, PolicyStatus
from subsidy.public import service
from subsidy.public.models import MobileSignIn
from subsidy.public.signin import record_sign_in
from tests.factories import HouseholdFactory, PolicyFactory, ProjectFactory, approved_filing, make_user
from tests.farmer_support import code_sent_to

T = datetime(2017, 6, 1, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_padding(app, monkeypatch):
    monkeypatch.setitem(app.config, "MOBILE_CODE_MIN_SECONDS", 0)


def _published(**kw):
    kw.setdefault("status", PolicyStatus.published)
    kw.setdefault("published_at", T)
    return PolicyFactory(**kw)


def sign_in(client, db, household) -> None:
    """The real way in: ask for a code, read it from the outbox, type it."""

    assert client.post("/m/login", data={"id_number": household.id_number, "phone": household.phone}).status_code == 200
    code = code_sent_to(db, household.phone)
    assert client.post("/m/login/code", data={"code": code}).status_code == 302


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href", "action", "srcset", "poster", "data") and value:
                self.urls.append(value)


def _foreign_refs(html: str) -> list[str]:
    """Anything a page would make the phone fetch (or a link/form lead) off this host."""
    p = _Refs()
    p.feed(html)
    loads = [u for u in p.urls if re.match(r"^(https?:)?//", u) and not u.startswith("http://127.0.0.1:5000/")]
    css = re.findall(r"url\(([^)]*)\)|@import", html)
    return loads + [c for c in css if c]


# --- home and policies ---------------------------------------------------------------------------

def test_home_shows_the_countys_latest_policies_and_the_two_big_actions(client, county, db):
    _published(title="耕地地力保护补贴", category=PolicyCategory.planting)
    PolicyFactory(title="草稿不公开")
    _published(title="已撤回的政策", status=PolicyStatus.withdrawn, withdrawn_reason="废止")
    db.session.commit()
    html = client.get("/m/").get_data(as_text=True)
    assert "耕地地力保护补贴" in html and "草稿不公开" not in html and "已撤回的政策" not in html
    assert "查我的补贴" in html and "我要咨询 / 投诉" in html
    assert _foreign_refs(html) == []
    assert "<script" not in html


def test_policies_by_category_search_and_region(client, county, db):
    _published(title="全县种植补贴", category=PolicyCategory.planting, region_code="640425")
    _published(title="白阳镇养殖补贴", category=PolicyCategory.livestock, region_code="640425100")
    _published(title="王洼镇农机补贴", category=PolicyCategory.machinery, region_code="640425101",
               body="拖拉机购置补贴")
    db.session.commit()
    # a visitor who came through a village of 白阳镇 sees county + township, not 王洼镇's
    client.get("/m/villages/640425100201")
    html = client.get("/m/policies").get_data(as_text=True)
    assert "全县种植补贴" in html and "白阳镇养殖补贴" in html and "王洼镇农机补贴" not in html
    html = client.get("/m/policies?category=livestock").get_data(as_text=True)
    assert "白阳镇养殖补贴" in html and "全县种植补贴" not in html
    html = client.get("/m/policies?region=640425&q=拖拉机").get_data(as_text=True)
    assert "王洼镇农机补贴" in html and "全县种植补贴" not in html


def test_policy_page_with_interpretation_attachments_and_qr(client, county, db):
    policy = _published(title="2017年补贴政策", body="原文**内容**", interpretation="通俗**解读**")
    draft = PolicyFactory()
    db.session.commit()
    html = client.get(f"/m/policies/{policy.id}").get_data(as_text=True)
    assert "<strong>内容</strong>" in html and "<strong>解读</strong>" in html
    assert f"/qr/policies/{policy.id}.svg" in html
    assert client.get(f"/m/policies/{draft.id}").status_code == 404
    assert client.get(f"/qr/policies/{draft.id}.svg").status_code == 404
    assert client.get("/m/policies/999999").status_code == 404


def test_withdrawn_policy_explains_itself_without_its_text(client, county, db):
    policy = _published(title="旧政策", body="旧内容不再执行", status=PolicyStatus.withdrawn,
                        withdrawn_reason="已被新文件替代", withdrawn_at=T)
    db.session.commit()
    html = client.get(f"/m/policies/{policy.id}").get_data(as_text=True)
    assert "已被新文件替代" in html and "旧内容不再执行" not in html


# --- QR codes -----------------------------------------------------------------------------------

def _qr_matrix(url: str):
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    qr.add_data(url)
    qr.make(fit=True)
    return qr.get_matrix()


def _svg_matrix(svg: str, size: int):
    """Read the dark modules back from the SVG path (one 1×1 square per module)."""
    dark = set()
    for x, y in re.findall(r"M(\d+),(\d+)H", svg):
        dark.add((int(x), int(y)))
    return [[(x, y) in dark for x in range(size)] for y in range(size)]


def test_qr_codes_encode_the_public_address(app, client, county, db, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://hn.example.gov.cn")
    policy = _published()
    db.session.commit()
    for path, url in (("/qr/villages/640425100201.svg", "https://hn.example.gov.cn/m/villages/640425100201"),
                      (f"/qr/policies/{policy.id}.svg", f"https://hn.example.gov.cn/m/policies/{policy.id}")):
        resp = client.get(path)
        assert resp.status_code == 200 and resp.mimetype == "image/svg+xml"
        expected = _qr_matrix(url)
        assert _svg_matrix(resp.get_data(as_text=True), len(expected)) == expected
    assert client.get("/qr/villages/640425100.svg").status_code == 404   # a township has no board
    assert client.get("/qr/villages/abc.svg").status_code == 404


# --- the village board -------------------------------------------------------------------------

def test_board_shows_publicized_and_approved_lists_masked(client, county, db):
    h1 = HouseholdFactory(region_code="640425100201", head_name="张建华")
    h2 = HouseholdFactory(region_code="640425100201", head_name="李四")
    HouseholdFactory(region_code="640425100202", head_name="王五")
    year = datetime.now().year
    approved = approved_filing("640425100201", project=ProjectFactory(name="耕地地力保护补贴", year=year))
    # a second project, now on the board for publicity
    publicizing = approved_filing("640425100201", project=ProjectFactory(name="地膜补贴", year=year),
                                  state="publicizing")
    assert approved.state is FilingState.county_approved and publicizing.state is FilingState.publicizing
    html = client.get("/m/villages/640425100201").get_data(as_text=True)
    assert "耕地地力保护补贴" in html and "地膜补贴" in html
    assert "张*华" in html and "李*" in html and "王五" not in html and "王*" not in html
    for h in (h1, h2):
        assert h.id_number not in html and h.head_name not in html
        assert h.id_number[:6] + "********" + h.id_number[-4:] in html
    assert html.count('class="object"') == 2   # only the list being publicized can be objected to
    assert "公示期" in html and "0954-7011111" in html
    assert _foreign_refs(html) == []
    assert client.get("/m/villages/640425999999").status_code == 404
    assert client.get("/m/villages/640425100").status_code == 404


# --- my subsidies ------------------------------------------------------------------------------

def test_my_subsidies_in_farmer_words_with_the_sms_sent(client, county, db):
    me = HouseholdFactory(region_code="640425100201", head_name="张建华", payout_account="6231000000000009876")
    HouseholdFactory(region_code="640425100201")
    approved_filing("640425100201", project=ProjectFactory(name="耕地地力保护补贴", year=2017))
    approved_filing("640425100201", project=ProjectFactory(name="地膜补贴", year=2017), state="township_approved")
    approved_filing("640425100201", project=ProjectFactory(name="良种补贴", year=2016), state="publicizing")
    sign_in(client, db, me)
    html = client.get("/m/me").get_data(as_text=True)
    assert "2017年" in html and "2016年" in html
    assert "耕地地力保护补贴" in html and "县级已审定" in html
    assert "地膜补贴" in html and "县级审核中" in html
    assert "良种补贴" in html and "公示中" in html
    assert html.index("2017年") < html.index("2016年")
    # the approval SMS the county's 审定 queued for this household
    assert "已经县级审定" in html and "验证码" not in html
    assert _foreign_refs(html) == []


def test_a_paid_filing_without_a_recorded_payment_reads_paid(county, db):
    """What became of paid money comes from the payments area (tests/test_payments.py); a paid
    filing with no payment recorded for the entry still reads 已发放, with the date the filing
    was paid and the household's registered account."""
    from subsidy.common.masking import account_tail
    from tests.filings_support import make_world, walk_to

    w = make_world(1)
    walk_to(w, FilingState.paid)
    item = service.my_entries(w.households[0].id)[0]
    assert (item.stage, item.payment_id) == ("已发放", None)
    assert item.account_tail == account_tail(w.households[0].payout_account) != ""
    assert item.paid_at == w.filing.state_changed_at


def test_me_needs_a_signed_in_household(client, county):
    resp = client.get("/m/me")
    assert resp.status_code == 302 and "/m/login" in resp.headers["Location"]


def test_a_household_never_sees_anothers_data(app, client, county, db):
    me = HouseholdFactory(region_code="640425100201", head_name="张建华")
    other = HouseholdFactory(region_code="640425100201", head_name="李秀英")
    approved_filing("640425100201")
    sign_in(client, db, me)
    # ids in the query string or form are not how "me" is chosen
    for url in (f"/m/me?household_id={other.id}", f"/m/me?id={other.id}", f"/m/me?hh={other.id}"):
        html = client.get(url).get_data(as_text=True)
        assert "张建华" in html and "李秀英" not in html and other.phone not in html
    # the farmer session is signed: a cookie edited by hand, or signed with a guessed key, is no session
    from flask import Flask
    from flask.sessions import SecureCookieSessionInterface

    forged = {"farmer": {"hh": other.id, "exp": 4102444800}}
    real = SecureCookieSessionInterface().get_signing_serializer(app).dumps(forged)
    guesser = Flask("guesser")
    guesser.secret_key = "guessed-secret"
    guessed = SecureCookieSessionInterface().get_signing_serializer(guesser).dumps(forged)
    payload, _, signature = real.rpartition(".")
    for cookie in (payload + "." + signature[::-1], guessed):
        forger = app.test_client()
        forger.set_cookie("session", cookie, domain="localhost")
        resp = forger.get("/m/me")
        assert resp.status_code == 302 and "/m/login" in resp.headers["Location"]


# --- coverage and posters ------------------------------------------------------------------------

def test_mobile_summary_and_coverage_per_village(login_as, county, db):
    hs = HouseholdFactory.create_batch(4, region_code="640425100201")
    HouseholdFactory.create_batch(2, region_code="640425101202")
    record_sign_in(hs[0].id)
    record_sign_in(hs[1].id)
    record_sign_in(hs[1].id)   # a second sign-in is not a second household
    db.session.commit()
    assert service.mobile_summary("640425") == {"households": 6, "households_signed_in": 2, "coverage_rate": 0.333}
    assert service.mobile_summary("640425100201") == {"households": 4, "households_signed_in": 2,
                                                      "coverage_rate": 0.5}
    assert service.mobile_summary("640425101201") == {"households": 0, "households_signed_in": 0,
                                                      "coverage_rate": None}
    assert db.session.scalar(sa.select(MobileSignIn.sign_ins).where(MobileSignIn.household_id == hs[1].id)) == 2
    admin = login_as("county_admin")
    html = admin.get("/mobile/coverage").get_data(as_text=True)
    assert "33.3%" in html and "50.0%" in html and "白阳镇201村" in html and "王洼镇202村" in html
    # a township sees its own villages only
    township = login_as("township_reviewer", "640425101")
    html = township.get("/mobile/coverage").get_data(as_text=True)
    assert "王洼镇202村" in html and "白阳镇201村" not in html
    assert township.get("/mobile/coverage?region_code=640425100").status_code == 404


def test_township_prints_a_poster_for_every_village_in_one_go(app, login_as, county, db, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://hn.example.gov.cn")
    township = login_as("township_reviewer", "640425100")
    html = township.get("/mobile/posters").get_data(as_text=True)
    assert html.count('class="poster"') == 2
    assert "白阳镇201村" in html and "白阳镇202村" in html and "王洼镇" not in html
    assert "https://hn.example.gov.cn/m/villages/640425100201" in html
    assert html.count("<svg") == 2 and "0954-7011111" in html
    assert "break-after: page" in client_css(township)
    assert _foreign_refs(html.replace("https://hn.example.gov.cn/m/villages/", "/m/villages/")) == []
    clerk = login_as("village_clerk", "640425100201")
    assert clerk.get("/mobile/posters?region_code=640425100202").status_code == 404


def client_css(client) -> str:
    return client.get("/static/css/mobile.css").get_data(as_text=True)


def test_mobile_pages_load_nothing_from_another_host(client, county, db):
    policy = _published(body="![外部图](http://evil.example/a.png) [链接](https://www.gov.cn)")
    db.session.commit()
    for url in ("/m/", "/m/policies", f"/m/policies/{policy.id}", "/m/villages/640425100201", "/m/login",
                "/m/login?mode=phone", "/m/cases/new"):
        resp = client.get(url)
        assert resp.status_code == 200, url
        html = resp.get_data(as_text=True)
        refs = [r for r in _foreign_refs(html) if r != "https://www.gov.cn"]   # a link is not a load
        assert refs == [], (url, refs)
        assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    assert "@import" not in client_css(client) and "url(" not in client_css(client)


# --- asking, complaining, objecting, rating -------------------------------------------------------

MONDAY = datetime(2024, 6, 3, 2, 0, tzinfo=UTC)  # 10:00 in China; 2024 is on the calendar


def _case(db):
    from subsidy.cases.models import Case

    db.session.rollback()
    return db.session.scalars(sa.select(Case).order_by(Case.id.desc())).first()


def test_signed_in_household_complains_reads_the_reply_and_rates_it(client, county, db):
    from subsidy.cases import service as cases
    from subsidy.cases.models import CaseKind, CaseState, Channel

    me = HouseholdFactory(region_code="640425100201", head_name="张建华")
    with time_machine.travel(MONDAY, tick=False):
        sign_in(client, db, me)
        page = client.get("/m/cases/new?kind=complaint").get_data(as_text=True)
        assert 'value="complaint" checked' in page and "****" in page   # the answer goes to the masked number
        resp = client.post("/m/cases/new", data={"kind": "complaint", "subject": "补贴没到账",
                                                  "body": "耕地补贴去年的还没有收到"})
        assert resp.status_code == 200
        case = _case(db)
        assert case.ref_no in resp.get_data(as_text=True) and case.ref_no.startswith("TS-2024-")
        assert (case.kind, case.channel, case.household_id, case.contact_phone) == \
            (CaseKind.complaint, Channel.mobile, me.id, me.phone)
        assert case.assigned_region_code == "640425100"      # the township, never the village accused
        case_id = case.id
        reviewer = make_user("township_reviewer", "640425100")
        cases.reply_case(reviewer, case_id, "已核实，本周内补发。", "substantiated")
        db.session.commit()
        html = client.get("/m/me").get_data(as_text=True)
        assert "已核实，本周内补发。" in html and "白阳镇" in html and f"/m/cases/{case_id}/rating" in html
        assert "核查结论</strong>：经核查，您反映的问题属实，已按规定处理。" in html   # the finding, in plain words
        assert "substantiated" not in html
        # 不满意 needs a reason: refused, nothing changes
        # the page again, the error beside the comment, the choice kept
        resp = client.post(f"/m/cases/{case_id}/rating", data={"rating": "dissatisfied", "comment": ""})
        assert resp.status_code == 422
        html = resp.get_data(as_text=True)
        assert f'id="comment-error-{case_id}"' in html and "请说明不满意的原因" in html
        assert 'value="dissatisfied" required checked' in html
        assert f'/m/cases/{case_id}/rating#rating-{case_id}' in html
        assert _case(db).state is CaseState.replied
        resp = client.post(f"/m/cases/{case_id}/rating", data={"rating": "satisfied", "comment": "很及时"})
        assert resp.status_code == 302
        rated = _case(db)
        assert rated.state is CaseState.closed and rated.rating.value == "satisfied"
        html = client.get("/m/me").get_data(as_text=True)
        assert "您的评价：满意" in html and f"/m/cases/{case_id}/rating" not in html


def test_another_household_cannot_rate_or_read_my_case(app, client, county, db):
    from subsidy.cases import service as cases
    from subsidy.cases.models import CaseState

    me = HouseholdFactory(region_code="640425100201", head_name="张建华")
    other = HouseholdFactory(region_code="640425100201", head_name="李秀英")
    with time_machine.travel(MONDAY, tick=False):
        sign_in(client, db, me)
        client.post("/m/cases/new", data={"kind": "inquiry", "subject": "良种补贴标准", "body": "每亩多少钱？"})
        case_id = _case(db).id
        cases.reply_case(make_user("township_reviewer", "640425100"), case_id, "每亩 10 元。")
        db.session.commit()
        intruder = app.test_client()
        sign_in(intruder, db, other)
        assert "良种补贴标准" not in intruder.get("/m/me").get_data(as_text=True)
        resp = intruder.post(f"/m/cases/{case_id}/rating", data={"rating": "very_dissatisfied", "comment": "乱评"})
        assert resp.status_code == 404
        assert _case(db).state is CaseState.replied
        anonymous = app.test_client()
        resp = anonymous.post(f"/m/cases/{case_id}/rating", data={"rating": "satisfied"})
        assert resp.status_code == 302 and "/m/login" in resp.headers["Location"]


def test_a_confirmed_phone_may_ask_without_signing_in(client, county, db):

    with time_machine.travel(MONDAY, tick=False):
        client.get("/m/villages/640425101202")
        html = client.get("/m/cases/new").get_data(as_text=True)
        assert "用身份证号登录" in html and "只验证手机号" in html
        client.post("/m/login", data={"mode": "phone", "phone": "13700137000", "next": "/m/cases/new"})
        client.post("/m/login/code", data={"code": code_sent_to(db, "13700137000")})
        html = client.get("/m/cases/new").get_data(as_text=True)
        assert "王洼镇202村" in html and "137****7000" in html
        resp = client.post("/m/cases/new", data={"kind": "inquiry", "village": "", "subject": "问", "body": "答"})
        assert resp.status_code == 422 and "请选择所在村" in resp.get_data(as_text=True)
        resp = client.post("/m/cases/new", data={"kind": "inquiry", "village": "640425101202",
                                                  "subject": "危房改造怎么申请", "body": "需要什么材料？",
                                                  "contact_name": "王先生"})
        assert resp.status_code == 200
        case = _case(db)
        assert case.contact_phone == "13700137000" and case.household_id is None
        assert case.region_code == "640425101202" and case.contact_name == "王先生"
        assert "危房改造怎么申请" in client.get("/m/cases/new").get_data(as_text=True)


def test_objection_on_a_publicized_entry_becomes_an_objection_case(client, county, db):
    from subsidy.cases.models import CaseKind

    HouseholdFactory(region_code="640425100201", head_name="张建华")
    with time_machine.travel(MONDAY, tick=True):
        publicizing = approved_filing("640425100201", project=ProjectFactory(name="地膜补贴", year=2024),
                                      state="publicizing")
        approved = approved_filing("640425100201", project=ProjectFactory(name="良种补贴", year=2024))
        entry_id = service.village_board("640425100201").publicizing[0].lines[0].entry_id
        approved_entry = service.village_board("640425100201").approved[0].lines[0].entry_id
        url = f"/m/villages/640425100201/entries/{entry_id}/objection"
        resp = client.get(url)
        assert resp.status_code == 302 and "mode=phone" in resp.headers["Location"]
        client.post("/m/login", data={"mode": "phone", "phone": "13700137001", "next": url})
        resp = client.post("/m/login/code", data={"code": code_sent_to(db, "13700137001")})
        assert resp.headers["Location"].endswith(url)
        page = client.get(url).get_data(as_text=True)
        assert "张*华" in page and "地膜补贴" in page
        resp = client.post(url, data={"body": "该户去年已搬走，不应享受"})
        assert resp.status_code == 200 and "YY-2024-" in resp.get_data(as_text=True)
        case = _case(db)
        assert case.kind is CaseKind.objection and case.entry_id == entry_id
        assert case.assigned_region_code == "640425100" and case.contact_phone == "13700137001"
        # a list no longer being publicized takes no objection
        assert client.get(f"/m/villages/640425100201/entries/{approved_entry}/objection").status_code == 404
    assert publicizing.id != approved.id


def test_home_offers_the_boards_not_a_second_sign_in_and_the_picker_leads_to_a_village(client, county, db):
    html = client.get("/m/").get_data(as_text=True)
    assert html.count('href="/m/login') == 0 and html.count('href="/m/me"') == 1
    assert 'href="/m/villages"' in html
    townships = client.get("/m/villages").get_data(as_text=True)
    assert "白阳镇" in townships and "王洼镇" in townships and 'href="/m/villages?township=640425100"' in townships
    villages = client.get("/m/villages?township=640425100").get_data(as_text=True)
    assert 'href="/m/villages/640425100201"' in villages and "王洼镇202村" not in villages
    board = client.get("/m/villages/640425100201").get_data(as_text=True)
    assert 'href="/m/villages?township=640425100"' in board
    assert client.get("/m/villages?township=nonsense").status_code == 200


def test_my_page_links_my_village_board(client, county, db):
    me = HouseholdFactory(region_code="640425101202", head_name="张建华")
    db.session.commit()
    sign_in(client, db, me)
    html = client.get("/m/me").get_data(as_text=True)
    assert 'id="my-board" href="/m/villages/640425101202"' in html
    assert 'href="/m/villages/640425101202"' in client.get("/m/").get_data(as_text=True)


def test_the_case_form_keeps_what_was_typed_on_any_refusal(app, client, county, db, monkeypatch):
    me = HouseholdFactory(region_code="640425100201")
    db.session.commit()
    with time_machine.travel(MONDAY, tick=False):
        sign_in(client, db, me)
        sent = {"kind": "complaint", "subject": "补贴没到账", "body": "去年的耕地补贴还没有收到，请核查"}
        resp = client.post("/m/cases/new", data={**sent, "subject": ""})
        html = resp.get_data(as_text=True)
        assert resp.status_code == 422 and sent["body"] in html and 'value="complaint" checked' in html
        monkeypatch.setitem(app.config, "CASES_PER_FARMER_PER_DAY", 0)
        resp = client.post("/m/cases/new", data=sent)
        html = resp.get_data(as_text=True)
        assert resp.status_code == 429 and sent["body"] in html and sent["subject"] in html and "请明天再提交" in html


def test_an_expired_form_is_shown_again_with_what_was_typed(app, client, county, db):
    me = HouseholdFactory(region_code="640425100201")
    db.session.commit()
    sign_in(client, db, me)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        resp = client.post("/m/cases/new", data={"kind": "complaint", "subject": "补贴没到账",
                                                  "body": "写了很久的一段话", "csrf_token": "stale"})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "写了很久的一段话" in html and "已过期" in html
    assert _case(db) is None
