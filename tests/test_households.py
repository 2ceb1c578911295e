"""The household register: field rules, jurisdiction for every role, forms, detail and export."""
from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from subsidy.audit.models import AuditEvent
from subsidy.households import service
from subsidy.households.models import Household
from subsidy.households.validation import check_id_number, check_land, check_members, check_phone
from tests.factories import HouseholdFactory, make_user, valid_id_number

VILLAGES = ("640425100201", "640425100202", "640425101201", "640425101202")


def id_ending_in_x() -> str:
    for seq in range(1, 5000):
        number = valid_id_number(seq)
        if number.endswith("X"):
            return number
    raise AssertionError("no X check digit found")


def bad_checksum(number: str) -> str:
    last = number[-1]
    return number[:-1] + ("0" if last != "0" else "1")


@pytest.fixture
def households(db, county):
    """One household in each of the four villages, keyed by village code."""
    made = {code: HouseholdFactory(region_code=code, head_name=f"户主{code[-4:]}") for code in VILLAGES}
    db.session.commit()
    return made


def count(db, model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


# ---------------------------------------------------------------- field rules


def test_id_number_with_a_wrong_check_digit_is_refused():
    with pytest.raises(ValueError, match="校验位"):
        check_id_number(bad_checksum(valid_id_number(7)))


def test_lower_case_x_is_normalised_to_upper_case():
    number = id_ending_in_x()
    assert check_id_number(number.lower()) == number
    assert check_id_number(f" {number[:-1]}x ") == number


def test_each_refusal_names_the_part_that_is_wrong():
    from subsidy.demo import make_id_number

    def message(number):
        with pytest.raises(ValueError) as exc:
            check_id_number(number)
        return str(exc.value)

    good = make_id_number("640425", date(1990, 5, 17), 12, female=False)
    assert "校验位不正确" in message(bad_checksum(good))
    assert "出生日期无效" in message(make_id_number("640425", date(1990, 5, 17), 12, False)[:10] + "13" + good[12:])
    assert "地区码不存在" in message(make_id_number("999999", date(1990, 5, 17), 12, False))
    assert "应为 18 位" in message(good[:16])
    assert "出生日期无效" in message(make_id_number("640425", date(1890, 5, 17), 12, False))


def test_a_number_under_a_code_younger_than_its_holder_is_accepted_with_a_warning(api_as, county):
    """彭阳县 was 642226 until 2001 and is 640425 since: someone born in 1990 whose card was
    reissued after 2001 holds a 640425 number. Accepted, and the clerk is told why to look."""
    from subsidy.demo import make_id_number
    from subsidy.households.validation import id_number_warning

    reissued = make_id_number("640425", date(1990, 5, 17), 12, female=False)
    assert check_id_number(reissued) == reissued
    assert "2001" in id_number_warning(reissued) and "1990" in id_number_warning(reissued)
    assert id_number_warning(make_id_number("642226", date(1990, 5, 17), 12, False)) is None
    assert id_number_warning(make_id_number("640425", date(2005, 5, 17), 12, False)) is None
    resp = api_as("village_clerk").post("/api/v1/households", json={"head_name": "马玉兰", "id_number": reissued,
                                                                    "members": 3})
    assert resp.status_code == 201, resp.json
    assert resp.json["warnings"] and "请核对身份证原件" in resp.json["warnings"][0]


def test_a_phone_or_account_another_household_uses_is_warned_of_on_save(api_as, login_as, county, db):
    """Issue 16: at once, on the form and in the API's answer; a count, never whose it is."""
    HouseholdFactory(region_code="640425100202", head_name="邻村户", phone="13912340000",
                     payout_account="6231000000000009999")
    db.session.commit()
    resp = api_as("village_clerk").post("/api/v1/households", json={
        "head_name": "马玉兰", "id_number": valid_id_number(), "members": 3, "phone": "13912340000",
        "payout_account": "6231000000000001234"})
    assert resp.status_code == 201, resp.json
    assert [w[:16] for w in resp.json["warnings"]] == ["手机号码与本县另外 1 户相同："]
    assert "邻村户" not in str(resp.json)
    page = login_as("village_clerk")
    r = page.post(f"/households/{resp.json['id']}/edit", data={
        "head_name": "马玉兰", "id_number": resp.json["id_number"], "members": 3, "phone": "13812340000",
        "payout_account": "6231000000000009999", "land_area_mu": "0"}, follow_redirects=True)
    text = r.get_data(as_text=True)
    assert r.status_code == 200 and "一卡通账号与本县另外 1 户相同" in text and "手机号码与本县" not in text


def test_id_number_of_the_wrong_length_or_date_is_refused():
    with pytest.raises(ValueError, match="18 位"):
        check_id_number("64042519600101")
    with pytest.raises(ValueError):
        check_id_number("640425196013010011")  # month 13


@pytest.mark.parametrize("typed", ["+86 138 1234 5678", "138 1234 5678", "+8613812345678", "13812345678", 13812345678])
def test_mobile_numbers_are_normalised_to_eleven_digits(typed):
    assert check_phone(typed) == "13812345678"


@pytest.mark.parametrize("typed", ["0954-7011111", "09547011111", "+86 954 701 1111"])
def test_a_landline_is_refused(typed):
    with pytest.raises(ValueError):
        check_phone(typed)


def test_phone_may_be_blank_but_not_garbage():
    assert check_phone("") is None and check_phone(None) is None
    with pytest.raises(ValueError):
        check_phone("12345")


def test_cached_checks_agree_with_the_libraries():
    """check_id_number caches the code table and check_phone caches by 7-digit prefix; both
    must answer as python-stdnum and phonenumbers do, except that a region code that exists or
    existed is accepted whatever the birth year (DESIGN.md §6: renumbered codes), and a birth
    date must lie between 1900 and today."""
    import random
    from datetime import date

    from stdnum import numdb
    from stdnum.cn import ric
    from stdnum.exceptions import InvalidComponent, ValidationError

    from subsidy.households.validation import _check_phone_number

    def accepted(check, value) -> bool:
        try:
            check(value)
        except ValueError:
            return False
        return True

    def reference(number: str) -> bool:
        try:
            ric.validate(number)
        except InvalidComponent:  # a bad date, or a code not in use in the birth year
            try:
                birth = ric.get_birth_date(number)
            except ValidationError:
                return False
            known = any("county" in props for _p, props in numdb.get("cn/loc").info(number[:6]))
            return known and birth.year >= 1900 and birth <= date.today()
        except ValidationError:
            return False
        return ric.get_birth_date(number).year >= 1900 and ric.get_birth_date(number) <= date.today()

    rng = random.Random(11643)
    for seq in range(600):
        number = valid_id_number(seq)
        spot = rng.randrange(18)
        mutated = number[:spot] + rng.choice("0123456789X") + number[spot + 1:]
        renumbered = "640425" + number[6:17]
        renumbered += ric.calc_check_digit(renumbered + "0")
        for candidate in (number, mutated, "640425" + number[6:], "110101" + number[6:], renumbered):
            assert accepted(check_id_number, candidate) == reference(candidate), candidate
    for prefix in range(10000, 20000, 3):
        number = f"{prefix}{rng.randrange(10**6):06d}"
        assert accepted(check_phone, number) == accepted(_check_phone_number, number), number


@pytest.mark.parametrize(("value", "expected"), [(1, 1), ("4", 4), (7.0, 7), ("50", 50)])
def test_members_accepts_whole_numbers_from_1_to_50(value, expected):
    assert check_members(value) == expected


@pytest.mark.parametrize(("value", "message"), [(0, "1–50"), (51, "1–50"), ("2.5", "整数"), ("四", "整数"),
                                                ("", "不能为空")])
def test_members_refuses_the_rest(value, message):
    with pytest.raises(ValueError, match=message):
        check_members(value)


def test_land_area_rules():
    assert check_land("12.5") == Decimal("12.50")
    assert check_land(None) == Decimal("0.00")
    assert check_land(3.25) == Decimal("3.25")
    for bad, message in (("-1", "负数"), ("1.234", "两位小数"), ("十亩", "数字"), ("200000", "过大")):
        with pytest.raises(ValueError, match=message):
            check_land(bad)


# ---------------------------------------------------------------- jurisdiction, by role


@pytest.mark.parametrize(("role", "region", "visible"), [
    ("village_clerk", "640425100201", {"640425100201"}),
    ("township_reviewer", "640425100", {"640425100201", "640425100202"}),
    ("county_reviewer", "640425", set(VILLAGES)),
    ("county_admin", "640425", set(VILLAGES)),
    ("supervisor", "640425", set(VILLAGES)),
    ("supervisor", "640425101", {"640425101201", "640425101202"}),
])
def test_each_role_sees_its_own_region_only(api_as, login_as, households, role, region, visible):
    api = api_as(role, region)
    listed = api.get("/api/v1/households?per_page=200").json
    assert {h["region_code"] for h in listed["items"]} == visible
    assert listed["total"] == len(visible)
    page = login_as(role, region)
    for code, household in households.items():
        expected = 200 if code in visible else 404
        assert api.get(f"/api/v1/households/{household.id}").status_code == expected, code
        resp = page.get(f"/households/{household.id}")
        assert resp.status_code == expected, code
        if expected == 200:
            assert household.id_number in resp.get_data(as_text=True)


def test_a_clerk_cannot_change_another_villages_household(api_as, login_as, households, db):
    other = households["640425100202"]
    api = api_as("village_clerk", "640425100201")
    assert api.patch(f"/api/v1/households/{other.id}", json={"members": 9}).status_code == 404
    page = login_as("village_clerk", "640425100201")
    assert page.get(f"/households/{other.id}/edit").status_code == 404
    resp = page.post(f"/households/{other.id}/edit",
                     data={"head_name": "改名", "id_number": other.id_number, "members": "9"})
    assert resp.status_code == 404
    db.session.expire_all()
    assert db.session.get(Household, other.id).members == 4


def test_a_clerk_cannot_create_into_another_village(api_as, db, county):
    api = api_as("village_clerk", "640425100201")
    resp = api.post("/api/v1/households", json={"region_code": "640425100202", "head_name": "李四",
                                                 "id_number": valid_id_number(), "members": 3})
    assert resp.status_code == 404
    assert count(db, Household) == 0


@pytest.mark.parametrize(("role", "region"), [("township_reviewer", "640425100"), ("county_reviewer", "640425"),
                                         ("supervisor", "640425")])
def test_readers_cannot_edit(api_as, login_as, households, db, role, region):
    target = households["640425100201"]
    api = api_as(role, region)
    assert api.get(f"/api/v1/households/{target.id}").status_code == 200
    assert api.patch(f"/api/v1/households/{target.id}", json={"members": 9}).status_code == 403
    assert api.post("/api/v1/households", json={"region_code": "640425100201", "head_name": "李四",
                                                 "id_number": valid_id_number(), "members": 3}).status_code == 403
    page = login_as(role, region)
    assert page.get("/households/new").status_code == 403
    assert page.get(f"/households/{target.id}/edit").status_code == 403
    assert page.get("/households/import").status_code == 403
    listing = page.get("/households/").get_data(as_text=True)
    assert "新增农户" not in listing and "/households/import" not in listing
    db.session.expire_all()
    assert db.session.get(Household, target.id).members == 4


def test_the_list_shows_add_import_export_to_a_clerk(login_as, households):
    html = login_as("village_clerk").get("/households/").get_data(as_text=True)
    assert "新增农户" in html and "/households/import" in html and "/households/export" in html


# ---------------------------------------------------------------- create and edit


def test_duplicate_id_number_is_refused_across_the_platform(api_as, households, db):
    taken = households["640425101202"].id_number
    api = api_as("village_clerk", "640425100201")
    resp = api.post("/api/v1/households", json={"head_name": "王五", "id_number": taken.lower(), "members": 2})
    assert resp.status_code == 409
    assert resp.json["error"]["code"] == "duplicate"
    assert "迁户" in resp.json["error"]["fields"]["id_number"]
    assert count(db, Household) == 4


def test_clerk_creates_a_household_through_the_form(login_as, db):
    page = login_as("village_clerk")
    number = id_ending_in_x()
    resp = page.post("/households/new", data={"head_name": " 张建国 ", "id_number": number.lower(),
                                              "phone": "+86 139 5412 3456", "payout_account": "6231-0000-1234-5678",
                                              "members": "4", "land_area_mu": "12.5"})
    assert resp.status_code == 302
    household = db.session.scalars(sa.select(Household)).one()
    assert (household.region_code, household.head_name, household.id_number, household.phone,
            household.payout_account, household.land_area_mu) == (
        "640425100201", "张建国", number, "13954123456", "6231000012345678", Decimal("12.50"))
    assert resp.headers["Location"].endswith(f"/households/{household.id}")
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "household.create")).one()
    assert event.object_id == str(household.id)


def test_form_errors_are_shown_beside_each_field_in_chinese(login_as, db):
    page = login_as("village_clerk")
    resp = page.post("/households/new", data={"head_name": "", "id_number": bad_checksum(valid_id_number(3)),
                                              "phone": "0954-7011111", "members": "零", "land_area_mu": "-2"})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    for message in ("户主姓名不能为空", "身份证号校验位不正确", "固定电话", "家庭人口应为整数", "耕地面积不能为负数"):
        assert message in html
    assert count(db, Household) == 0


def test_duplicate_id_on_the_form_is_shown_beside_the_field(login_as, households, db):
    page = login_as("village_clerk")
    resp = page.post("/households/new", data={"head_name": "王五", "id_number": households["640425101201"].id_number,
                                              "members": "2"})
    assert resp.status_code == 422
    assert "此人已在本平台登记" in resp.get_data(as_text=True)


def test_county_admin_picks_the_village_on_the_form(login_as, db, county):
    page = login_as("county_admin")
    html = page.get("/households/new").get_data(as_text=True)
    assert 'name="region_code"' in html and "640425101202" in html
    missing = page.post("/households/new", data={"head_name": "赵六", "id_number": valid_id_number(), "members": "1"})
    assert missing.status_code == 422 and "请选择所属村" in missing.get_data(as_text=True)
    resp = page.post("/households/new", data={"region_code": "640425101202", "head_name": "赵六",
                                              "id_number": valid_id_number(), "members": "1"})
    assert resp.status_code == 302
    assert db.session.scalars(sa.select(Household.region_code)).one() == "640425101202"


def test_clerk_form_has_no_village_choice(login_as, county):
    html = login_as("village_clerk").get("/households/new").get_data(as_text=True)
    assert 'name="region_code"' not in html


def test_clerk_edits_a_household_and_the_change_is_audited(login_as, households, db):
    target = households["640425100201"]
    page = login_as("village_clerk")
    form = page.get(f"/households/{target.id}/edit").get_data(as_text=True)
    assert target.id_number in form
    resp = page.post(f"/households/{target.id}/edit", data={
        "head_name": target.head_name, "id_number": target.id_number, "phone": target.phone,
        "payout_account": target.payout_account, "members": "6", "land_area_mu": "12.5"})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Household, target.id).members == 6
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "household.update")).one()
    assert '"before":{"members":4}' in event.detail and '"after":{"members":6}' in event.detail


def test_detail_page_shows_the_household_and_its_masked_form(login_as, households):
    target = households["640425100201"]
    html = login_as("village_clerk").get(f"/households/{target.id}").get_data(as_text=True)
    assert target.id_number in html and target.payout_account in html
    assert target.id_number[:6] + "********" + target.id_number[-4:] in html


# ---------------------------------------------------------------- export


def exported_rows(data: bytes) -> tuple[list, list[tuple]]:
    wb = load_workbook(io.BytesIO(data), read_only=True)
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    wb.close()
    return list(rows[0]), rows[1:]


def export_events(db) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "household.export")))


def test_export_holds_the_rows_in_scope_only_and_is_audited(api_as, households, db):
    HouseholdFactory(region_code="640425100202", head_name="=HYPERLINK(\"http://x\")")
    db.session.commit()
    api = api_as("township_reviewer", "640425100")
    resp = api.get("/api/v1/households/export")
    assert resp.status_code == 200
    assert resp.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    headers, rows = exported_rows(resp.data)
    assert headers == ["户主姓名", "身份证号", "手机号码", "一卡通账号", "家庭人口", "耕地面积(亩)", "村代码", "村名"]
    assert sorted(r[6] for r in rows) == ["640425100201", "640425100202", "640425100202"]
    assert {r[1] for r in rows} >= {households["640425100201"].id_number, households["640425100202"].id_number}
    assert "=HYPERLINK(\"http://x\")" in {r[0] for r in rows}  # kept as text, not a formula
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "household.export")).one()
    assert event.actor == api.user.username and '"count":3' in event.detail and event.region_code == "640425100"


def test_export_follows_the_list_filter(login_as, households, db):
    page = login_as("county_reviewer", "640425")
    target = households["640425101201"]
    resp = page.post("/households/export", data={"q": target.head_name})
    assert resp.status_code == 200
    _, rows = exported_rows(resp.data)
    assert [r[1] for r in rows] == [target.id_number]
    narrowed = page.post("/households/export", data={"region_code": "640425101"})
    assert sorted(r[6] for r in exported_rows(narrowed.data)[1]) == ["640425101201", "640425101202"]
    assert len(export_events(db)) == 2


def test_export_of_another_region_is_refused(api_as, households, db):
    api = api_as("township_reviewer", "640425100")
    assert api.get("/api/v1/households/export?region_code=640425101").status_code == 404
    assert export_events(db) == []


def test_service_rejects_unknown_actor_permission(households, db):
    supervisor = make_user("supervisor")
    with pytest.raises(Exception) as exc:
        service.update_household(supervisor, households["640425100201"].id, members=3)
    assert getattr(exc.value, "status", None) == 403
