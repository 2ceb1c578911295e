"""The farmers' mobile pages under /m/ and the QR codes under /qr/ (docs/api.md "Public pages": these
addresses are printed on paper, so they never change). Every view here is `@public`: a farmer
has no staff account; who they are comes from `subsidy.public.farmer` (ID number + SMS code)."""
from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from subsidy.common import throttle
from subsidy.common.access import client_address, current_actor, public, safe_next
from subsidy.common.masking import mask_phone
from subsidy.errors import DomainError, NotFound, TooManyRequests, ValidationError
from subsidy.extensions import db, limiter
from subsidy.payments import receipts
from subsidy.policies import attachments as policy_files
from subsidy.policies import service as policies
from subsidy.policies.models import PolicyCategory, PolicyStatus
from subsidy.policies.render import render_markdown
from subsidy.public import cases_bridge, farmer, qr, service
from subsidy.public.models import CodePurpose
from subsidy.public.signin import CodeRejected, request_code, verify_code

bp = Blueprint("public", __name__)



@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError):
    db.session.rollback()
    return render_template("public/error.html", code=exc.status, message=exc.message), exc.status


# The forms where a farmer types or chooses something: a form left open past its CSRF token's
# life is shown again with what was sent (and nothing is filed) instead of an error page.
_KEEPS_WHAT_WAS_SENT = {"public.new_case", "public.objection", "public.rate"}
_EXPIRED = _l("页面停留太久已过期，您填写和选择的内容还在，请再提交一次。")


@bp.errorhandler(CSRFError)
def _csrf_expired(exc: CSRFError):
    if request.method == "POST" and request.endpoint in _KEEPS_WHAT_WAS_SENT:
        request.environ["subsidy.csrf_expired"] = True
        return current_app.view_functions[request.endpoint](**(request.view_args or {}))
    return render_template("public/error.html", code=400,
                           message=_("页面停留太久已过期，请返回刷新后重试。")), 400


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    messages = {404: _("页面不存在。"), 429: _("操作太频繁，请稍后再试。"), 413: _("内容太多。")}
    return render_template("public/error.html", code=exc.code,
                           message=messages.get(exc.code, exc.description)), exc.code


@bp.after_request
def _headers(response):
    # Nothing on these pages comes from another host; the browser is told so too.
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@bp.context_processor
def _farmer_context():
    return {"farmer_hh": farmer.household_id(), "farmer_phone": farmer.confirmed_phone()}


def _safe_next(target: str | None, default: str) -> str:
    return safe_next(target, default, within="/m/")


def _visitor_region() -> str | None:
    """Whose policies to show: the signed-in household's village, else the region asked for,
    else the village last visited, else the only county there is."""
    hh = farmer.household_id()
    if hh is not None:
        try:
            return service.get_household(hh).region_code
        except NotFound:
            farmer.sign_out()
    asked = service.find_region(request.args.get("region"))
    if asked is not None:
        farmer.remember_region(asked.code)
        return asked.code
    remembered = service.find_region(farmer.remembered_region())
    if remembered is not None:
        return remembered.code
    counties = service.counties()
    return counties[0].code if len(counties) == 1 else None


# --- home and policies ---------------------------------------------------------------------------

@bp.route("/m/")
@public
def home():
    code = _visitor_region()
    if code is None:
        return render_template("public/choose_county.html", counties=service.counties())
    return render_template("public/home.html", region=service.find_region(code),
                           latest=policies.latest_public(code, limit=5))


@bp.route("/m/policies")
@public
def policy_list():
    code = _visitor_region()
    if code is None:
        return render_template("public/choose_county.html", counties=service.counties())
    category, q = request.args.get("category") or None, (request.args.get("q") or "").strip()
    result = policies.list_public(code, category=category, q=q, page=request.args.get("page"))
    return render_template("public/policies.html", page=result, region=service.find_region(code),
                           categories=PolicyCategory.choices(),
                           counts=policies.public_category_counts(code), category=category, q=q)


@bp.route("/m/policies/<int:policy_id>")
@public
def policy(policy_id: int):
    item = policies.get_public(policy_id)
    return render_template("public/policy.html", policy=item, body=render_markdown(item.body),
                           interpretation=render_markdown(item.interpretation),
                           withdrawn=item.status is PolicyStatus.withdrawn, qr_url=qr.policy_url(item.id))


@bp.route("/m/policies/<int:policy_id>/files/<int:attachment_id>")
@public
def policy_file(policy_id: int, attachment_id: int):
    attachment, path = policy_files.open_attachment(current_actor(), policy_id, attachment_id)
    response = send_file(path, mimetype=attachment.content_type, download_name=attachment.filename,
                         as_attachment=not attachment.is_image and request.args.get("view") != "1",
                         conditional=True, max_age=3600)
    # A stored file is never a page: the type was checked at upload and the browser must not
    # guess another one. Images also get a sandbox; a PDF does not, because Chromium's PDF
    # viewer will not open a sandboxed document (and its viewer runs no script of ours).
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = ("default-src 'none'; sandbox" if attachment.is_image
                                                   else "default-src 'none'; object-src 'self'")
    return response


# --- the village board --------------------------------------------------------------------------

@bp.route("/m/villages")
@public
def villages():
    """The village picker (township, then village) as plain lists of links: no script, big
    targets, and a township already chosen (or the village last visited) opens its villages."""
    township = service.get_township(request.args.get("township"))
    if township is None:
        remembered = service.find_region(farmer.remembered_region())
        if remembered is not None and len(remembered.code) >= 9 and "township" not in request.args:
            township = service.get_township(remembered.code[:9])
    if township is not None:
        return render_template("public/villages.html", township=township,
                               villages=service.villages_of(township.code), townships=None)
    code = _visitor_region()
    if code is None:
        return render_template("public/choose_county.html", counties=service.counties())
    return render_template("public/villages.html", township=None, villages=None,
                           county=service.find_region(code[:6]), townships=service.townships_of(code[:6]))


@bp.route("/m/villages/<code>")
@public
def village(code: str):
    board = service.village_board(code)
    farmer.remember_region(board.village.code)
    return render_template("public/village.html", board=board, qr_url=qr.village_url(board.village.code))


@bp.route("/m/villages/<code>/entries/<int:entry_id>/objection", methods=["GET", "POST"])
@public
def objection(code: str, entry_id: int):
    village, lst, line = service.board_entry(code, entry_id)
    who = _who()
    if who is None:
        return redirect(url_for("public.login", next=request.path, mode="phone"))
    form = {"body": (request.form.get("body") or "").strip(),
            "contact_name": (request.form.get("contact_name") or "").strip()}
    errors: dict[str, str] = {}
    status = 422
    if request.method == "POST" and request.environ.get("subsidy.csrf_expired"):
        errors, status = {"body": _EXPIRED}, 400
    elif request.method == "POST":
        try:
            case = cases_bridge.file_objection(household_id=who["household_id"], phone=who["phone"],
                                               village_code=village.code, entry_id=entry_id, body=form["body"],
                                               contact_name=form["contact_name"],
                                               subject=f"对{lst.project}公示名单的异议",
                                               by=farmer.actor(who["phone"]))
        except DomainError as exc:
            # Shown on the same page with what the farmer typed: nothing they wrote is lost.
            db.session.rollback()
            errors, status = exc.fields or {"body": exc.message}, _form_status(exc)
        else:
            return render_template("public/case_sent.html", case=case,
                                   back=url_for("public.village", code=village.code))
    return render_template("public/objection.html", village=village, lst=lst, line=line, form=form,
                           errors=errors), (status if errors else 200)


def _form_status(exc: DomainError) -> int:
    """A form shown again after a refusal: 422 for what was typed, else the refusal's own status."""
    return 422 if isinstance(exc, ValidationError) else exc.status


def _who() -> dict | None:
    """The signed-in household, or a confirmed mobile number: who may file a case."""
    hh = farmer.household_id()
    if hh is not None:
        household = service.get_household(hh)
        return {"household_id": hh, "phone": household.phone, "name": household.head_name,
                "region_code": household.region_code}
    phone = farmer.confirmed_phone()
    if phone:
        return {"household_id": None, "phone": phone, "name": "", "region_code": farmer.remembered_region()}
    return None


# --- sign-in with ID number and SMS code --------------------------------------------------------

def _pad(started: float) -> None:
    """Every answer to a code request takes at least MOBILE_CODE_MIN_SECONDS, so the time it
    takes never tells whether an SMS was queued (a registered ID) or not."""
    left = float(current_app.config["MOBILE_CODE_MIN_SECONDS"]) - (time.monotonic() - started)
    if left > 0:
        time.sleep(left)


def _sms_region() -> str:
    code = farmer.remembered_region()
    if code:
        return code
    counties = service.counties()
    return counties[0].code if counties else "000000"


@bp.route("/m/login", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["MOBILE_CODE_LIMIT_PER_ADDRESS"], methods=["POST"])
@limiter.limit(lambda: current_app.config["MOBILE_CODE_FAILURES_PER_ADDRESS"], methods=["POST"],
               deduct_when=throttle.counts_failure)
def login():
    mode = "phone" if (request.values.get("mode") == "phone") else "login"
    next_url = _safe_next(request.values.get("next"),
                          url_for("public.me") if mode == "login" else url_for("public.new_case"))
    form = {"id_number": (request.form.get("id_number") or "").strip(),
            "phone": (request.form.get("phone") or "").strip()}
    if request.method == "GET":
        if mode == "login" and farmer.household_id() is not None:
            return redirect(next_url)
        return render_template("public/login.html", mode=mode, next=next_url, form=form, errors={})
    started = time.monotonic()
    purpose = CodePurpose.phone if mode == "phone" else CodePurpose.login
    try:
        ticket = request_code(purpose=purpose, id_number=form["id_number"], phone=form["phone"],
                              address=client_address(), region_code=_sms_region())
    except ValidationError as exc:
        throttle.failed()
        _pad(started)
        return render_template("public/login.html", mode=mode, next=next_url, form=form, errors=exc.fields), 422
    except TooManyRequests as exc:
        throttle.failed()
        _pad(started)
        return render_template("public/login.html", mode=mode, next=next_url, form=form, errors={},
                               message=exc.message), 429
    farmer.set_pending(ticket.id, purpose.value, mask_phone(ticket.phone), next_url)
    _pad(started)
    # The same page, wording and status whether or not the ID number is registered.
    return render_template("public/code.html", pending=farmer.pending(), error=None)


@bp.route("/m/login/code", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["MOBILE_VERIFY_FAILURES_PER_ADDRESS"], methods=["POST"],
               deduct_when=throttle.counts_failure)
def login_code():
    pending = farmer.pending()
    if pending is None:
        return redirect(url_for("public.login"))
    if request.method == "GET":
        return render_template("public/code.html", pending=pending, error=None)
    purpose = CodePurpose(pending["p"])
    try:
        verified = verify_code(pending["t"], request.form.get("code"), purpose=purpose)
    except CodeRejected as exc:
        # 200, not 4xx: the failed try must be committed, or the 5-try limit would not hold.
        throttle.failed()
        return render_template("public/code.html", pending=pending, error=exc.message)
    if verified.purpose is CodePurpose.login:
        farmer.sign_in(verified.household_id, verified.request_id)
    else:
        farmer.confirm_phone(verified.phone, verified.request_id)
    return redirect(_safe_next(pending.get("n"), url_for("public.me")))


@bp.route("/m/logout", methods=["POST"])
@public
def logout():
    farmer.sign_out()
    return redirect(url_for("public.home"))


# --- my subsidies and my cases ------------------------------------------------------------------

@bp.route("/m/me")
@public
def me():
    hh = farmer.household_id()
    if hh is None:
        return redirect(url_for("public.login", next=url_for("public.me")))
    return _me_page(hh)


def _me_page(hh: int, rating: dict | None = None, status: int = 200):
    household = service.my_household(hh)
    years: dict[int, list] = {}
    for item in service.my_entries(hh):  # a paid entry carries its payment for the receipt buttons
        years.setdefault(item.year, []).append(item)
    return render_template("public/me.html", household=household, years=years,
                           messages=service.my_messages(hh), cases=cases_bridge.my_cases(hh, household.phone),
                           ratings=cases_bridge.RATINGS, rating=rating or {}), status

@bp.route("/m/payments/<int:payment_id>/receipt", methods=["POST"])
@public
def receipt(payment_id: int):
    """回访: the farmer says whether paid money arrived. 没有收到 opens a complaint for
    the county, after a confirmation page. The household is the signed-in one, never one named
    in the request."""
    hh = farmer.household_id()
    if hh is None:
        return redirect(url_for("public.login", next=url_for("public.me")))
    if request.form.get("answer") == "denied":
        if request.form.get("sure") != "1":
            # A complaint is not undone: ask first, on a page (the farmers' pages run no script).
            return render_template("public/receipt_deny.html", payment=receipts.payment_to_deny(hh, payment_id))
        _payment, case = receipts.deny_receipt(hh, payment_id, phone=service.get_household(hh).phone,
                                               note=(request.form.get("note") or "").strip()[:500],
                                               by=farmer.actor())
        flash(_("已登记“没有收到”，县里将核查并答复您。投诉编号：%(ref)s", ref=case.ref_no), "ok")
    else:
        receipts.confirm_receipt(hh, payment_id, by=farmer.actor())
        flash(_("谢谢确认，已登记“我已收到”。"), "ok")
    return redirect(url_for("public.me") + f"#pay-{payment_id}")


@bp.route("/m/pickups/<int:pickup_id>/receipt", methods=["POST"])
@public
def pickup_receipt(pickup_id: int):
    """The farmer says whether goods recorded as collected reached them. 没有领到 opens a
    complaint for the county, after a confirmation page; the household is the signed-in one."""
    from subsidy.materials import receipts as goods

    hh = farmer.household_id()
    if hh is None:
        return redirect(url_for("public.login", next=url_for("public.me")))
    if request.form.get("answer") == "denied":
        if request.form.get("sure") != "1":
            pickup = goods.pickup_to_deny(hh, pickup_id)
            return render_template("public/pickup_deny.html", pickup=pickup,
                                   project=service.project_of(pickup.project_id))
        pickup, case = goods.deny_pickup(hh, pickup_id, phone=service.get_household(hh).phone,
                                         note=(request.form.get("note") or "").strip()[:500], by=farmer.actor())
        flash(_("已登记“没有领到”，县里将核查并答复您。投诉编号：%(ref)s", ref=case.ref_no), "ok")
    else:
        pickup = goods.confirm_pickup(hh, pickup_id, by=farmer.actor())
        flash(_("谢谢确认，已登记“我已领取”。"), "ok")
    return redirect(url_for("public.me") + f"#pickup-{pickup.id}")


@bp.route("/m/cases/<int:case_id>/rating", methods=["POST"])
@public
def rate(case_id: int):
    who = _who()
    if who is None:
        return redirect(url_for("public.login", next=url_for("public.me")))
    chosen = {"case_id": case_id, "rating": request.form.get("rating") or "",
              "comment": (request.form.get("comment") or "")[:500]}
    if request.environ.get("subsidy.csrf_expired"):
        return _rating_again(who, chosen, {"rating": _EXPIRED}, 400)
    try:
        cases_bridge.rate(case_id, household_id=who["household_id"], phone=who["phone"],
                          rating=chosen["rating"], comment=chosen["comment"], by=farmer.actor(who["phone"]))
    except ValidationError as exc:
        db.session.rollback()
        fields = exc.fields or {"rating": exc.message}
        return _rating_again(who, chosen, {("comment" if k == "reason" else k): v for k, v in fields.items()}, 422)
    flash(_("谢谢您的评价。"), "ok")
    return redirect(url_for("public.me" if who["household_id"] else "public.new_case") + f"#case-{case_id}")


def _rating_again(who: dict, chosen: dict, errors: dict, status: int):
    """The page again with the error beside the field and the farmer's choice and words kept
    (the form posts to .../rating#rating-N, so the browser lands on the rating form itself)."""
    chosen["errors"] = errors
    if who["household_id"]:
        return _me_page(who["household_id"], rating=chosen, status=status)
    return _case_page(who, _blank_case_form(who), {}, rating=chosen, status=status)


def _blank_case_form(who: dict) -> dict:
    return {"kind": request.args.get("kind") or "inquiry", "subject": "", "body": "", "contact_name": "",
            "village": who["region_code"] if who["region_code"] and len(who["region_code"]) == 12 else ""}


def _case_page(who: dict, form: dict, errors: dict, *, rating: dict | None = None, status: int = 200):
    region = who["region_code"] or _visitor_region()
    villages = service.villages_of(region[:6]) if region else []
    mine = [] if who["household_id"] else cases_bridge.my_cases(None, who["phone"])
    return render_template("public/case_new.html", form=form, errors=errors, who=who, villages=villages,
                           mine=mine, ratings=cases_bridge.RATINGS, rating=rating or {}), status


@bp.route("/m/cases/new", methods=["GET", "POST"])
@public
def new_case():
    who = _who()
    if who is None:
        return render_template("public/case_who.html")
    if request.method == "GET":
        return _case_page(who, _blank_case_form(who), {})
    form = {k: (request.form.get(k) or "").strip() for k in ("kind", "subject", "body", "village", "contact_name")}
    if request.environ.get("subsidy.csrf_expired"):
        # The form sat open past the token's life: nothing is filed, and nothing typed is lost.
        return _case_page(who, form, {"form": _EXPIRED}, status=400)
    try:
        case = cases_bridge.file_case(kind=form["kind"], household_id=who["household_id"], phone=who["phone"],
                                      village_code=who["region_code"] if who["household_id"] else form["village"],
                                      subject=form["subject"], body=form["body"],
                                      contact_name=form["contact_name"] or who["name"],
                                      by=farmer.actor(who["phone"]))
    except DomainError as exc:
        # Any refusal is shown on the same page with what the farmer typed: nothing they wrote is lost.
        db.session.rollback()
        return _case_page(who, form, exc.fields or {"form": exc.message}, status=_form_status(exc))
    return render_template("public/case_sent.html", case=case, back=url_for("public.me")
                           if who["household_id"] else url_for("public.new_case"))


# --- QR codes ------------------------------------------------------------------------------------

def _svg(text: str) -> Response:
    response = Response(text, mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@bp.route("/qr/villages/<code>.svg")
@public
def qr_village(code: str):
    village_region = service.get_village(code)
    return _svg(qr.svg(qr.village_url(village_region.code)))


@bp.route("/qr/policies/<int:policy_id>.svg")
@public
def qr_policy(policy_id: int):
    item = policies.get_public(policy_id)
    return _svg(qr.svg(qr.policy_url(item.id)))
