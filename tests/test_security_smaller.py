"""The probe's smaller findings (security issue, finding 11)."""
from __future__ import annotations

import logging
import stat

import pytest

from subsidy.cases import deadlines as admin
from subsidy.errors import ValidationError
from subsidy.households.validation import check_id_number, check_phone
from tests.factories import make_user, valid_id_number


def test_full_width_digits_are_read_for_id_numbers_as_for_phones():
    number = valid_id_number(5)
    full_width = number.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789X"})
    assert check_id_number(full_width) == number
    assert check_phone("１３９０９５４１２３４") == "13909541234"


def test_a_calendar_day_outside_the_calendars_years_is_refused(county):
    county_admin = make_user("county_admin")
    for day in ("9999-12-31", "1899-01-01"):
        with pytest.raises(ValidationError) as exc:
            admin.set_calendar_day(county_admin, day, False, "")
        assert "2000" in exc.value.fields["day"]


def test_id_numbers_and_phones_never_reach_the_logs_in_full(app, login_as, caplog):
    number = valid_id_number(9)
    with caplog.at_level(logging.INFO):
        logging.getLogger("werkzeug").info('127.0.0.1 - - "GET /households/?q=%s HTTP/1.1" 200 -', number)
        logging.getLogger("gunicorn.access").info("GET /api/v1/households?q=13909541234 200")
        logging.getLogger("subsidy.sms").info("SMS to +8613909541234")
    text = caplog.text
    assert number not in text and number[:6] + "********" + number[-4:] in text
    assert "13909541234" not in text and "139****1234" in text


def test_the_instance_folder_is_the_owners_alone(app):
    from pathlib import Path

    mode = stat.S_IMODE(Path(app.instance_path).stat().st_mode)
    assert mode & 0o077 == 0, oct(mode)


def test_the_outbox_file_is_the_owners_alone(app, tmp_path):
    from subsidy.notify.gateways import ConsoleGateway

    path = tmp_path / "outbox.log"
    ConsoleGateway(str(path)).send(1, "+8613909541234", "【惠农】测试")
    assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def test_a_role_that_may_not_create_projects_is_refused_the_form(login_as, county):
    township = login_as("township_reviewer", "640425100")
    assert township.get("/projects/new").status_code == 403
    assert township.post("/projects/new", data={"name": "x"}).status_code == 403


@pytest.mark.parametrize("url", ["/api/v1/watchlist/import", "/api/v1/households/import"])
def test_an_import_answers_the_role_before_the_file(api_as, county, url):
    role = "village_clerk" if "watchlist" in url else "township_reviewer"
    api = api_as(role, "640425100201" if role == "village_clerk" else "640425100")
    assert api.post(url, data={}, content_type="multipart/form-data").status_code == 403
    missing = api_as("county_admin").post(url, data={}, content_type="multipart/form-data")
    assert missing.status_code == 400 and "请选择" in missing.json["error"]["message"]
