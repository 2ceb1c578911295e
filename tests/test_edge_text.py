"""Text at the edge (`subsidy.common.text`): names and single-line fields holding a control
character, a zero-width character or a bidirectional override are refused with a clear Chinese
message; multi-line bodies keep their line breaks and tabs and lose the rest."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from subsidy.cases.models import Case
from subsidy.common.text import check_line, clean_cell, clean_multiline, single_line
from subsidy.extensions import db
from subsidy.households.models import Household
from tests.factories import ProjectFactory, make_xlsx, valid_id_number

# A C0 control, DEL, a C1 control, zero-width space / joiner / BOM / word joiner, LRM,
# bidirectional overrides and isolates, a tab and a line break in a one-line field.
BAD = ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\u200b", "\u200d", "\ufeff", "\u2060", "\u200e", "\u202e",
       "\u202a", "\u2066", "\u2069", "\t", "\n", "\u2028"]
MESSAGE = "不可见字符"


@pytest.mark.parametrize("char", BAD)
def test_a_single_line_with_an_invisible_or_control_character_is_refused(char):
    with pytest.raises(ValueError, match="户主姓名中含有控制字符或不可见字符"):
        check_line(f"张{char}三", "户主姓名")
    with pytest.raises(ValueError, match=MESSAGE):
        single_line(f"张{char}三", label="姓名", limit=40)
    assert single_line("  马 福  ", label="姓名", limit=40) == "马 福"


def test_a_body_keeps_line_breaks_and_tabs_and_loses_the_rest():
    assert clean_multiline("第一行\r\n第二行\r第三行\u2028第四行") == "第一行\n第二行\n第三行\n第四行"
    assert clean_multiline("\ufeff甲\t乙\x00丙\u200b丁\u202e戊\x85\n") == "甲\t乙丙丁戊"
    assert clean_cell("张\x00三\u202e\t备注\n第二行") == "张三\t备注\n第二行"


# (A NUL byte never gets this far: the edge refuses it in any field, tests/test_edge_input.py.)
@pytest.mark.parametrize("char", ["\x01", "\u200b", "\u202e", "\u2066", "\x1f"])
def test_household_names_are_refused_on_the_api_the_form_and_the_import(api_as, login_as, char):
    api = api_as("village_clerk")
    r = api.post("/api/v1/households", json={"head_name": f"马{char}福", "id_number": valid_id_number(), "members": 3})
    assert r.status_code == 400 and MESSAGE in r.json["error"]["fields"]["head_name"], r.json
    page = login_as("village_clerk").post("/households/new", data={"head_name": f"马{char}福",
                                                                    "id_number": valid_id_number(), "members": "3"})
    assert page.status_code == 422 and "户主姓名中含有控制字符或不可见字符" in page.get_data(as_text=True)
    if char not in ("\x01", "\x1f"):  # openpyxl cannot write C0 controls into a file at all
        book = make_xlsx(["户主姓名", "身份证号", "手机号码", "一卡通账号", "家庭人口", "耕地面积(亩)"],
                         [[f"马{char}福", valid_id_number(), "", "", 3, 1]])
        r = api.post("/api/v1/households/import", data={"file": (book, "农户.xlsx")},
                     content_type="multipart/form-data")
        assert r.status_code == 400 and MESSAGE in r.json["errors"][0]["message"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Household)) == 0


def test_case_subjects_and_names_are_refused_and_bodies_cleaned(api_as):
    api = api_as("village_clerk")
    base = {"kind": "inquiry", "region_code": "640425100201", "subject": "补贴什么时候发", "body": "想问一下",
            "contact_phone": "13909541234", "contact_name": "马大爷"}
    for field in ("subject", "contact_name"):
        r = api.post("/api/v1/cases", json={**base, field: "马\u202e大爷"})
        assert r.status_code == 400 and MESSAGE in r.json["error"]["fields"][field], r.json
    r = api.post("/api/v1/cases", json={**base, "body": "第一行\r\n第二行\x01\u200b\t完"})
    assert r.status_code == 201, r.json
    assert db.session.get(Case, r.json["id"]).body == "第一行\n第二行\t完"
    township = api_as("township_reviewer")
    r = township.post(f"/api/v1/cases/{r.json['id']}/reply", json={"body": "已答复\x1b\n谢谢"})
    assert r.status_code == 200 and r.json["reply_body"] == "已答复\n谢谢", r.json


def test_policy_titles_project_names_and_staff_names_are_refused(api_as):
    admin = api_as("county_admin")
    r = admin.post("/api/v1/policies", json={"title": "补贴\u202e政策", "body": "正文", "region_code": "640425"})
    assert r.status_code == 400 and MESSAGE in r.json["error"]["fields"]["title"]
    r = admin.post("/api/v1/policies",
                   json={"title": "补贴政策", "body": "# 正文\n\n\t缩进\x08", "region_code": "640425"})
    assert r.status_code == 201 and r.json["body"] == "# 正文\n\n\t缩进"
    r = admin.post("/api/v1/projects", json={"name": "地力\x7f补贴", "year": 2024, "category": "cash", "unit": "mu",
                                             "rate": "105.00", "budget": "1000.00", "publicity_days": 7})
    assert r.status_code == 400 and MESSAGE in r.json["error"]["fields"]["name"]
    r = admin.post("/api/v1/users", json={"username": "clerk7", "password": "abc12345", "name": "马\u200b福",
                                          "role": "village_clerk", "region_code": "640425100201"})
    assert r.status_code == 400 and MESSAGE in r.json["error"]["fields"]["name"]


def test_staff_user_name_length_and_phone_are_checked(api_as, login_as):
    admin = api_as("county_admin")
    base = {"username": "clerk8", "password": "Baiyang-zhen-7", "role": "village_clerk", "region_code": "640425100201"}
    r = admin.post("/api/v1/users", json={**base, "name": "马" * 41})
    assert r.status_code == 400 and "name" in r.json["error"]["fields"]
    r = admin.post("/api/v1/users", json={**base, "name": "马福", "phone": "12345"})
    assert r.status_code == 400 and "phone" in r.json["error"]["fields"]
    r = admin.post("/api/v1/users", json={**base, "name": "马福", "phone": "139 0954 1234"})
    assert r.status_code == 201
    from subsidy.accounts.models import User

    assert db.session.scalar(sa.select(User.phone).where(User.username == "clerk8")) == "13909541234"
    page = login_as("county_admin").post("/users/new", data={**base, "username": "clerk9", "name": "马\x01福"})
    assert page.status_code == 422 and "姓名中含有控制字符或不可见字符" in page.get_data(as_text=True)


def test_watch_list_names_with_invisible_characters_are_row_errors(api_as):
    admin = api_as("county_admin")
    book = make_xlsx(["身份证号", "姓名", "类别", "来源"], [[valid_id_number(), "马\u202e福", "已故", "民政局"]])
    r = admin.post("/api/v1/watchlist/import", data={"file": (book, "名单.xlsx")}, content_type="multipart/form-data")
    assert r.status_code == 400 and MESSAGE in r.json["errors"][0]["message"]


def test_project_form_names_are_refused_beside_the_field(login_as):
    ProjectFactory()
    r = login_as("county_admin").post("/projects/new", data={"name": "良种\u200b补贴", "year": "2024",
                                                             "category": "cash", "unit": "mu", "rate": "10",
                                                             "publicity_days": "7"})
    assert r.status_code == 422 and "项目名称中含有控制字符或不可见字符" in r.get_data(as_text=True)


def test_an_sms_broadcast_loses_control_and_invisible_characters(api_as):
    from subsidy.notify.models import Broadcast
    from tests.factories import HouseholdFactory

    HouseholdFactory(region_code="640425100201", phone="13909541234")
    admin = api_as("county_admin")
    r = admin.post("/api/v1/sms/broadcasts",
                   json={"region_code": "640425100201", "body": "明天\x07发放\u202e补贴\n请查收"})
    assert r.status_code == 201, r.json
    assert db.session.get(Broadcast, r.json["id"]).body == "明天发放补贴\n请查收"
