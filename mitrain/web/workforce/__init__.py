"""Workforce leads' view of skills across teams and disciplines, over time.

Thin controllers: every figure and the suppression of small groups live in
``services.workforce``; this module only parses the filter, lays out the
charts (``learn.charts``) and renders. Aggregates only: no names, transcripts
or audio reach these pages.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, render_template, request

from ...db import session as db_session
from ...models import Discipline, UserRole, utcnow
from ...services import workforce as svc
from ..access import roles
from ..learn.charts import line_chart

bp = Blueprint("workforce", __name__, url_prefix="/workforce", template_folder="templates")
leads = roles(UserRole.LEAD, UserRole.ADMIN)


def _report() -> tuple[svc.WorkforceReport, list[str]]:
    db = db_session()
    f, errors = svc.parse_filter(db, request.args, utcnow().date())
    report = svc.workforce_report(db, f, min_group=current_app.config["WORKFORCE_MIN_GROUP"])
    return report, errors


def _charts(report: svc.WorkforceReport) -> list[dict[str, Any]]:
    """One line chart per charted figure; suppressed or empty buckets are gaps."""
    charts = []
    for key in svc.CHARTED:
        m = svc.METRICS[key]
        series = [(b.label, b.cells[key].value) for b in report.series]
        if not any(v is not None for _, v in series):
            continue
        scale_1_5 = m.unit == "" and m.fair is not None
        charts.append({
            "key": key, "label": m.label, "unit": "" if m.unit == "count" else m.unit,
            "fair": m.fair, "good": m.good,
            "chart": line_chart(series, fair=m.fair, good=m.good,
                                y_min=1.0 if scale_1_5 else 0.0,
                                y_max=5.0 if scale_1_5 else (100.0 if m.unit == "%" else None))})
    return charts


@bp.route("/")
@leads
def index() -> Any:
    report, errors = _report()
    columns = svc.table_columns(report)
    return render_template(
        "workforce/index.html", report=report, errors=errors, f=report.filter,
        charts=_charts(report), columns=columns, metrics=svc.METRICS, banded=svc.BANDED,
        sections=list(dict.fromkeys(svc.METRICS[k].section for k in columns)),
        fmt=svc.format_value, teams=svc.team_choices(db_session()),
        disciplines=list(Discipline), intervals=svc.INTERVALS)


@bp.route("/export.csv")
@leads
def export_csv() -> Any:
    report, errors = _report()
    if errors:
        # An export must match what was asked for: refuse rather than widen the filter.
        return Response("The figures were not exported:\n" + "\n".join(errors) + "\n", 400,
                        mimetype="text/plain")
    f = report.filter
    name = f"workforce-{f.date_from.isoformat()}-to-{f.date_to.isoformat()}.csv"
    return Response(svc.report_csv(report), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
