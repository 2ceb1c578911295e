"""The city's assessment page (考核): the ranked counties, each figure beside the score, the
period chooser, the .xlsx export and the city admin's weights (`subsidy.stats.assessment`)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from subsidy.accounts.permissions import Perm, can
from subsidy.common.forms import refused
from subsidy.common.templating import register_nav
from subsidy.common.timeutil import local_today
from subsidy.common.xlsx import send_xlsx
from subsidy.errors import DomainError
from subsidy.stats import assessment
from subsidy.stats.forms import WeightsForm
from subsidy.stats.models import Figure
from subsidy.stats.views import bp

register_nav("stats.assessment_page", "县区考核", Perm.view_assessment)

RENAME = {f"weights.{f.value}": f.value for f in Figure}


def _page(a: assessment.Assessment, form: WeightsForm | None = None, status: int = 200):
    # A year that has ended is closed (the service refuses its weights): no form for it.
    editable = can(current_user, Perm.manage_assessment) and (a.period.year >= local_today().year or form)
    if editable and form is None:
        form = WeightsForm(prefix="w", formdata=None, region_code=a.region.code, year=a.period.year,
                           **{f.value: a.weights.get(f, 0) for f in Figure})
    return render_template("stats/assessment.html", a=a, figures=list(Figure), form=form if editable else None,
                           years=range(local_today().year + 1, local_today().year - 6, -1),
                           filing_days=assessment.FILING_DAYS), status


@bp.route("/stats/assessment")
def assessment_page():
    a = request.args
    return _page(assessment.assessment(current_user, a.get("region_code"), a.get("year"), a.get("quarter")))


@bp.route("/stats/assessment.xlsx")
def assessment_export():
    a = request.args
    book, filename = assessment.export(current_user, a.get("region_code"), a.get("year"), a.get("quarter"))
    return send_xlsx(book, filename)


@bp.route("/stats/assessment/weights", methods=["POST"])
def assessment_weights():
    form = WeightsForm(prefix="w")
    weights = {f.value: form[f.value].data for f in Figure}
    try:
        assessment.set_weights(current_user, form.region_code.data, form.year.data, weights)
    except DomainError as exc:
        if exc.status != 400:
            raise
        status = refused(exc, form, RENAME)
        return _page(assessment.assessment(current_user, form.region_code.data, form.year.data), form, status)
    flash(_("考核权重已保存。"), "success")
    return redirect(url_for("stats.assessment_page", region_code=form.region_code.data, year=form.year.data))
