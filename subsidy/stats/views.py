"""The staff home page and the supervision dashboard (监管驾驶舱)."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user

from subsidy.accounts.permissions import Perm, can
from subsidy.audit import service as audit
from subsidy.common.templating import register_nav
from subsidy.common.xlsx import send_xlsx, write_workbook
from subsidy.regions.scope import ancestors
from subsidy.stats import service
from subsidy.workbench import service as workbench

bp = Blueprint("stats", __name__)
register_nav("stats.dashboard", "监管驾驶舱", Perm.view_dashboard)

SORT_KEYS = {key for key, _label, _kind in service.COLUMNS}


@bp.route("/home")
def home():
    alerts = audit.security_alerts(current_user) if can(current_user, Perm.view_audit) else []
    # The overview's figures are the dashboard's: a role without it lands on its waiting work alone.
    overview = service.region_overview(current_user) if can(current_user, Perm.view_dashboard) else None
    return render_template("stats/home.html", overview=overview, alerts=alerts,
                           work=workbench.waiting_work(current_user))


def _sorted(rows, key: str, desc: bool):
    if key not in SORT_KEYS:
        return rows
    def value(row):
        v = row.cells()[key]
        return (v is None, v if v is not None else 0) if key != "name" else (False, row.code)
    out = sorted(rows, key=value, reverse=desc)
    if desc:  # keep empty values (rates of nothing) last either way
        out = [r for r in out if r.cells()[key] is not None] + [r for r in out if r.cells()[key] is None]
    return out


@bp.route("/dashboard")
def dashboard():
    d = service.dashboard(current_user, request.args.get("region_code"), request.args.get("year"))
    sort, desc = request.args.get("sort", "name"), request.args.get("dir") == "desc"
    rows = _sorted(d.rows, sort, desc)
    # Above the county the projects are every county's, several of one name: say whose.
    above = len(d.region.code) < 6
    charts = {
        "projects": {"names": [f"{p.get('county', '')}·{p['name']}" if above else p["name"] for p in d.projects],
                     "approved": [float(p["approved"]) for p in d.projects],
                     "paid": [float(p["paid"]) for p in d.projects]},
        "regions": {"names": [r.name for r in d.rows],
                    "inquiries": [r.cells()["inquiries_rate"] for r in d.rows],
                    "complaints": [r.cells()["complaints_rate"] for r in d.rows]},
        "months": d.months,
    }
    # One level up, as far as the user's own region (a county's parent_code may be unset).
    up = [c for c in ancestors(d.region.code) if len(c) >= len(current_user.region_code)]
    return render_template("stats/dashboard.html", d=d, rows=rows, columns=service.COLUMNS, sort=sort, desc=desc,
                           up=up[-1] if up else None, above_county=above, counties={r.code: r.name for r in d.rows},
                           sup_columns=service.SUPERVISION_COLUMNS, mat_columns=service.MATERIAL_COLUMNS,
                           charts=charts, years=service.years_available(current_user))


@bp.route("/dashboard/refresh", methods=["POST"])
def dashboard_refresh():
    d = service.dashboard(current_user, request.form.get("region_code"), request.form.get("year"), refresh=True)
    return redirect(url_for("stats.dashboard", region_code=d.region.code, year=d.year))


@bp.route("/dashboard.xlsx")
def dashboard_export():
    d = service.dashboard(current_user, request.args.get("region_code"), request.args.get("year"))
    headers = [label for _key, label, _kind in service.COLUMNS + service.SUPERVISION_COLUMNS
               + service.MATERIAL_COLUMNS]
    out = write_workbook(f"{d.year}年监管统计", headers, service.export_rows(d),
                         widths={0: 18, **{i: 12 for i in range(1, len(headers))}})
    return send_xlsx(out, f"监管驾驶舱_{d.region.code}_{d.year}_{date.today():%Y%m%d}.xlsx")

# The city's assessment page registers its routes on this blueprint.
from subsidy.stats import assessment_views  # noqa: E402,F401
