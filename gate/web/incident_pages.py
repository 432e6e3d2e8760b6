"""Incidents from the browser (report, acknowledge, RCA items, resolve), the DORA page and the rings."""

from __future__ import annotations

from flask import flash, render_template, url_for
from werkzeug.wrappers import Response

from gate import schemas
from gate.domain.incidents import MEANING, RESPONSE_TIME, SEVERITIES, auto_kills, notification
from gate.domain.roles import PEOPLE as ANY
from gate.domain.words import duration
from gate.services import dora, incidents
from gate.services.context import now, rings
from gate.web.views import confirmed, load_form, me, run_form, signed_in, web


@web.route("/incidents")
@signed_in(*ANY)
def incidents_page() -> str:
    open_ = incidents.list_incidents(status="open", limit=500, before=None)
    resolved = incidents.list_incidents(status="resolved", limit=20, before=None)
    return render_template(
        "incidents.html", open_incidents=open_, resolved=resolved, at=now(), severities=_severity_choices()
    )


def _severity_choices() -> list[tuple[int, str]]:
    """Each severity with what it means, who is told and how soon: '0 · outage, …: pages on-call, 30 min to respond'."""
    told = {"page": "pages on-call", "email": "e-mails", None: "tells no one"}
    choices = []
    for sev in SEVERITIES:
        within = duration(RESPONSE_TIME[sev].total_seconds())
        choices.append((sev, f"{sev} · {MEANING[sev]}: {told[notification(sev)]}, {within} to respond"))
    return choices


@web.route("/incidents", methods=["POST"])
@signed_in("reporter")
def report_incident() -> Response:
    def act() -> None:
        body = load_form(schemas.IncidentIn())
        view, _ = incidents.open_incident(actor=me().name, **body)
        told = {"page": "on-call paged", "email": "e-mail sent"}.get(view.notified, "no one told")
        killed = " The flag was killed at once." if view.feature and _auto_kills(view.severity) else ""
        flash(f"Incident #{view.id} opened: {told}.{killed}", "ok")

    return run_form(url_for("web.incidents_page"), act)


def _auto_kills(severity: int) -> bool:
    return auto_kills(severity, rings().auto_kill_at_or_above)


@web.route("/incidents/<id:incident_id>/ack", methods=["POST"])
@signed_in("reporter")
def acknowledge_incident(incident_id: int) -> Response:
    return run_form(
        url_for("web.incidents_page"),
        lambda: incidents.acknowledge(incident_id=incident_id, actor=me().name),
        "Acknowledged.",
    )


@web.route("/incidents/<id:incident_id>/resolve", methods=["POST"])
@signed_in("reporter")
def resolve_incident(incident_id: int) -> Response:
    def act() -> None:
        confirmed("resolution")
        incidents.resolve(incident_id=incident_id, actor=me().name)
        flash(f"Incident #{incident_id} resolved.", "ok")

    return run_form(url_for("web.incidents_page"), act)


@web.route("/incidents/<id:incident_id>/rca-items", methods=["POST"])
@signed_in("reporter")
def add_rca_item(incident_id: int) -> Response:
    def act() -> None:
        item = incidents.open_rca_item(incident_id=incident_id, actor=me().name, **load_form(schemas.RcaIn()))
        flash(f"RCA item #{item.id} added.", "ok")

    return run_form(url_for("web.incidents_page"), act)


@web.route("/rca-items/<id:item_id>/close", methods=["POST"])
@signed_in("reporter")
def close_rca_item(item_id: int) -> Response:
    return run_form(
        url_for("web.incidents_page"),
        lambda: incidents.close_rca_item(item_id=item_id, actor=me().name),
        "RCA item closed.",
    )


@web.route("/dora")
@signed_in(*ANY)
def dora_page() -> str:
    weeks = dora.weekly(13)
    labels = [start.strftime("%d %b") for start, _ in weeks]
    series = {
        "deployments": [float(f.deployments) for _, f in weeks],
        "lead": [f.lead_median for _, f in weeks],
        "fail": [f.fail_percent for _, f in weeks],
        "restore": [f.restore_median for _, f in weeks],
    }
    return render_template("dora.html", m=dora.metrics(days=30), labels=labels, series=series, weeks=weeks)


@web.route("/rings")
@signed_in(*ANY)
def rings_page() -> str:
    return render_template("rings.html")
