"""Accountability pages: the staff list and the supervisor's form (`bp`), and the county's public
page of published decisions under /m/ (`public_bp`; docs/design.md "Supervision with
consequences")."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from subsidy.accountability import service
from subsidy.accountability.forms import DecisionForm
from subsidy.accounts.permissions import Perm
from subsidy.common.access import public
from subsidy.common.forms import form_status, refused
from subsidy.common.templating import register_nav
from subsidy.errors import ValidationError
from subsidy.public import farmer
from subsidy.public import service as public_service
from subsidy.public.views import _visitor_region as visitor_region
from subsidy.regions.service import list_regions_under

bp = Blueprint("accountability", __name__)
register_nav("accountability.index", "问责", Perm.view_accountability)


@bp.route("/accountability")
def index():
    region_code = request.args.get("region_code") or None
    page = service.list_decisions(current_user, region_code=region_code, page=request.args.get("page"))
    cases, filings = service.references(current_user, page.items)
    return render_template("accountability/index.html", page=page, cases=cases, filings=filings,
                           regions=list_regions_under(current_user), region_code=region_code or "")


@bp.route("/accountability/new", methods=["GET", "POST"])
def new():
    service.check_may_record(current_user)
    form = DecisionForm()
    form.set_regions(list_regions_under(current_user))
    if request.method == "GET":
        # A link from a case or a filing may name what the decision concerns.
        form.case_id.data = form.case_id.data or request.args.get("case_id", "")[:20]
        form.filing_id.data = form.filing_id.data or request.args.get("filing_id", "")[:12]
    if form.validate_on_submit():
        try:
            decision = service.record_decision(current_user, **form.service_data())
        except ValidationError as exc:
            status = refused(exc, form)
            return render_template("accountability/new.html", form=form), status
        if decision.published_at:
            flash(_("已记录问责决定，并已在“问责公开”页面公开。"), "success")
        else:
            flash(_("已记录问责决定（未公开）。"), "success")
        return redirect(url_for("accountability.index"))
    return render_template("accountability/new.html", form=form), form_status(form)


# --- the public page -------------------------------------------------------------------------

public_bp = Blueprint("accountability_public", __name__)

# The farmers' pages' policy (subsidy.public.views): nothing from another host, no script at all.
MOBILE_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; object-src 'none'; "
              "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@public_bp.after_request
def _headers(response):
    response.headers.setdefault("Content-Security-Policy", MOBILE_CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@public_bp.context_processor
def _farmer_context():
    # public/base.html shows 我的 / 退出 to a signed-in farmer, as on every other /m/ page.
    return {"farmer_hh": farmer.household_id(), "farmer_phone": farmer.confirmed_phone()}


@public_bp.route("/m/disclosures")
@public
def disclosures():
    """问责公开: the county's published decisions, chosen as every /m/ page chooses its region
    (the farmer's village, the region asked for, the one last visited, the only county)."""
    code = visitor_region()
    if code is None:
        return render_template("public/choose_county.html", counties=public_service.counties())
    county = public_service.find_region(code[:6])
    page = service.list_published(county.code, page=request.args.get("page"))
    return render_template("public/disclosures.html", county=county, page=page)
