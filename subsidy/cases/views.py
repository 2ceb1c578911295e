"""Staff pages for cases: the unit's queue, the case page with its actions, recording a case
taken by phone or at the office, the completion statistics, and the county's calendar."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from subsidy.accounts.permissions import Perm
from subsidy.cases import deadlines, escalation, queries, service, stats
from subsidy.cases.forms import (
    CalendarDayForm,
    CalendarImportForm,
    CaseDaysForm,
    CaseForm,
    EscalateForm,
    MergeForm,
    RateForm,
    ReasonForm,
    ReplyForm,
    TransferForm,
)
from subsidy.cases.models import CaseKind
from subsidy.common.forms import form_status, refused
from subsidy.common.params import MAX_ID, parse_int
from subsidy.common.templating import register_nav
from subsidy.common.xlsx import read_upload, send_xlsx
from subsidy.errors import DomainError, NotFound, PermissionDenied

bp = Blueprint("cases", __name__)
register_nav("cases.index", "诉求办理", Perm.view_cases)


@bp.route("/cases/")
def index():
    args = request.args
    data = queries.queue_page(current_user, scope=args.get("scope") or "mine", kind=args.get("kind") or None,
                              state=args.get("state", "open"), region_code=args.get("region_code") or None,
                              overdue=args.get("overdue") == "1", page=args.get("page"))
    return render_template("cases/index.html", **data, args=args)


def _offer_entries(form: CaseForm) -> None:
    """The objection's household: the entries matching the search, or the one chosen (posted,
    or linked from a filing's page as ?entry_id=)."""
    chosen = parse_int(form.entry_id.data or request.args.get("entry_id"), 1, MAX_ID)
    rows = queries.publicized_entries(current_user, q=form.entry_q.data) if form.entry_q.data else []
    if chosen and all(r.id != chosen for r in rows):
        rows = queries.publicized_entries(current_user, entry_id=chosen) + rows
    form.set_entries(rows)
    if chosen and not form.entry_id.data and rows:
        form.entry_id.data = str(chosen)
        form.kind.data = CaseKind.objection.value


@bp.route("/cases/new", methods=["GET", "POST"])
def new():
    form = CaseForm()
    form.set_regions(queries.county_regions(current_user))
    _offer_entries(form)
    if request.method == "POST" and request.form.get("find"):
        # 查找: the same form again, with the households found offered; nothing is recorded.
        form.validate_on_submit()  # the CSRF token is still checked
        form.kind.errors, form.entry_id.errors = [], []
        return render_template("cases/new.html", form=form, searched=True)
    if form.validate_on_submit():
        try:
            household_id = queries.household_by_id_number(current_user, form.household_id_number.data)
            case = service.record_case(current_user, **form.service_data(household_id))
        except DomainError as exc:
            if exc.status not in (400, 409):
                raise
            refused(exc, form)
            return render_template("cases/new.html", form=form), 422
        flash(_("已受理，编号 %(ref)s，承办单位 %(unit)s。", ref=case.ref_no, unit=case.assigned_region.name),
              "success")
        if service.case_visible_to(current_user, case):
            return redirect(url_for("cases.show", case_id=case.id))
        # A complaint about the clerk's own village: recorded, and out of the clerk's sight.
        return redirect(url_for("cases.index"))
    return render_template("cases/new.html", form=form), form_status(form)


def _forms():
    return {"reply_form": ReplyForm(), "transfer_form": TransferForm(prefix="t"), "reject_form": ReasonForm(prefix="r"),
            "merge_form": MergeForm(prefix="m"), "escalate_form": EscalateForm(prefix="e"),
            "rate_form": RateForm(prefix="v")}


def _show(case_id: int, forms: dict | None = None, status: int = 200, error: str | None = None):
    data = queries.case_page(current_user, case_id)
    forms = forms or _forms()
    forms["transfer_form"].set_targets(data["targets"])
    return render_template("cases/show.html", **data, **forms, error=error), status


@bp.route("/cases/<int:case_id>")
def show(case_id: int):
    return _show(case_id)


def _act(case_id: int, form_name: str, call, done: str):
    """Run one action from the case page; a refusal is shown on the page beside its form."""
    forms = _forms()
    form = forms[form_name]
    if not form.validate_on_submit():
        return _show(case_id, forms, 400)
    try:
        call(form)
    except (NotFound, PermissionDenied):
        raise
    except DomainError as exc:
        # The page shows the case as it is (its state, its buttons), the message beside the form.
        return _show(case_id, forms, refused(exc, form), error=exc.message)
    flash(done, "success")
    return redirect(url_for("cases.show", case_id=case_id))


@bp.route("/cases/<int:case_id>/accept", methods=["POST"])
def accept(case_id: int):
    return _act(case_id, "reply_form", lambda f: service.accept_case(current_user, case_id), _("已开始办理。"))


@bp.route("/cases/<int:case_id>/reply", methods=["POST"])
def reply(case_id: int):
    return _act(case_id, "reply_form",
                lambda f: service.reply_case(current_user, case_id, f.body.data, f.finding.data or None),
                _("已答复（办结），已向农户发送短信通知。"))


@bp.route("/cases/<int:case_id>/transfer", methods=["POST"])
def transfer(case_id: int):
    return _act(case_id, "transfer_form",
                lambda f: service.transfer_case(current_user, case_id, f.region_code.data, f.reason.data),
                _("已转办。"))


@bp.route("/cases/<int:case_id>/reject", methods=["POST"])
def reject(case_id: int):
    return _act(case_id, "reject_form", lambda f: service.reject_case(current_user, case_id, f.reason.data),
                _("已作不予受理处理。"))


@bp.route("/cases/<int:case_id>/merge", methods=["POST"])
def merge(case_id: int):
    return _act(case_id, "merge_form", lambda f: service.merge_case(current_user, case_id, f.into.data, f.reason.data),
                _("已合并，农户已收到短信：以所并入诉求的答复为准。"))


@bp.route("/cases/<int:case_id>/escalate", methods=["POST"])
def escalate(case_id: int):
    return _act(case_id, "escalate_form", lambda f: escalation.escalate_case(current_user, case_id, f.reason.data),
                _("已督办，并已短信提醒承办单位。"))


@bp.route("/cases/<int:case_id>/rating", methods=["POST"])
def rate(case_id: int):
    return _act(case_id, "rate_form",
                lambda f: service.record_rating(current_user, case_id, f.rating.data, f.reason.data),
                _("已登记回访评价。"))


# ---------------------------------------------------------------- statistics


def _stats_args():
    # The year as typed: the service refuses one outside 2000–2100 with a message (400).
    return {"region_code": request.args.get("region_code") or None, "year": request.args.get("year") or None}


@bp.route("/cases/stats")
def statistics():
    data = stats.statistics_for(current_user, **_stats_args(), sort=request.args.get("sort") or "completion_rate",
                                descending=request.args.get("dir", "desc") != "asc")
    return render_template("cases/stats.html", **data)


@bp.route("/cases/stats.xlsx")
def statistics_export():
    book, filename = stats.export_statistics(current_user, **_stats_args())
    return send_xlsx(book, filename)


# ---------------------------------------------------------------- calendar and time limits


def _calendar(year=None, status=200, **forms):
    data = deadlines.calendar_overview(current_user, year)
    forms.setdefault("day_form", CalendarDayForm(prefix="d"))
    forms.setdefault("import_form", CalendarImportForm(prefix="i", year=data["year"]))
    forms.setdefault("days_form", CaseDaysForm(prefix="s", data={f"{k}_days": v for k, v in data["days"].items()}))
    return render_template("cases/calendar.html", **data, **forms), status


def _recomputed_message(result) -> str:
    text = _("已保存。%(n)s 件诉求的期限已重新计算。", n=result.changed)
    if result.provisional:
        text += _("（其中 %(n)s 件的期限落在日历尚未设置的年份，仍为暂定）", n=result.provisional)
    return text


@bp.route("/cases/calendar")
def calendar():
    return _calendar(request.args.get("year", type=int))


@bp.route("/cases/calendar/template.xlsx")
def calendar_template():
    year = request.args.get("year", type=int)
    book, filename = deadlines.calendar_template(current_user, year)
    return send_xlsx(book, filename)


@bp.route("/cases/calendar/day", methods=["POST"])
def calendar_day():
    form = CalendarDayForm(prefix="d")
    try:
        if request.form.get("delete"):
            result = deadlines.delete_calendar_day(current_user, form.day.data)
        else:
            result = deadlines.set_calendar_day(current_user, form.day.data, form.is_workday.data == "1",
                                                form.note.data)
    except DomainError as exc:
        if exc.status != 400:
            raise
        return _calendar(request.args.get("year", type=int), refused(exc, form), day_form=form)
    flash(_recomputed_message(result), "success")
    return redirect(url_for("cases.calendar", year=deadlines.parse_day(form.day.data).year))


@bp.route("/cases/calendar/year", methods=["POST"])
def calendar_year():
    year = request.form.get("year", type=int)
    if year is None:
        flash(_("年份不正确。"), "danger")
        return redirect(url_for("cases.calendar"))
    result = deadlines.mark_year(current_user, year, request.form.get("complete") == "1")
    flash(_recomputed_message(result), "success")
    return redirect(url_for("cases.calendar", year=year))


@bp.route("/cases/calendar/import", methods=["POST"])
def calendar_import():
    form = CalendarImportForm(prefix="i")
    try:
        upload = read_upload("i-file")
        result = deadlines.import_calendar(current_user, upload.stream, upload.filename, form.year.data)
    except DomainError as exc:
        if exc.status not in (400, 413):
            raise
        return _calendar(form.year.data, refused(exc, form, rename={"i-file": "file"}), import_form=form)
    if not result.ok:
        return _calendar(result.year, 422, import_form=form, import_result=result)
    flash(_("已导入 %(y)s 年日历：%(r)s 个休息日，%(w)s 个调休上班日。",
            y=result.year, r=result.restdays, w=result.workdays)
          + " " + _recomputed_message(result.recomputed), "success")
    return redirect(url_for("cases.calendar", year=result.year))


@bp.route("/cases/settings", methods=["POST"])
def settings():
    form = CaseDaysForm(prefix="s")
    try:
        deadlines.update_case_days(current_user, **{k: v for k, v in form.data.items() if k != "csrf_token"})
    except DomainError as exc:
        if exc.status != 400:
            raise
        return _calendar(None, refused(exc, form), days_form=form)
    flash(_("办理期限已保存，对此后受理的诉求生效。"), "success")
    return redirect(url_for("cases.calendar"))
