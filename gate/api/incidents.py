"""Incidents and their RCA items, bugs, changes, and the DORA metrics."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from gate import schemas as s
from gate.api.auth import ANY, actor, principal
from gate.api.boundary import Blueprint
from gate.api.pagination import page
from gate.services import bugs_changes, dora, incidents
from gate.services.features import authorize_write
from gate.services.incidents import IncidentView, RcaView

blp = Blueprint("incidents", __name__, description="Incidents, RCA, bugs, changes and DORA metrics")


@blp.route("/incidents")
class Incidents(MethodView):
    @blp.requires("reporter")
    @blp.arguments(s.IncidentIn)
    @blp.response(201, s.IncidentOut)
    @blp.alt_response(200, schema=s.IncidentOut, description="an open incident with this dedup_key: that one")
    def post(self, body: dict[str, Any]) -> Any:
        """Report an incident: severe ones page (0, 1) or e-mail (2); an auto-kill is committed before the answer."""
        authorize_write(principal(), body.get("feature"))  # it may kill that feature's flag
        view, created = incidents.open_incident(actor=actor(), **body)
        return view if created else (view, 200)

    @blp.requires(*ANY)
    @blp.arguments(s.IncidentQuery, location="query")
    @blp.response(200, s.IncidentOut(many=True))
    def get(self, args: dict[str, Any]) -> list[IncidentView]:
        """Incidents newest first, with deadline, whether it was met, and RCA items; ?status=open."""
        return incidents.list_incidents(status=args["status"], **page(args))


@blp.route("/incidents/<id:incident_id>")
class IncidentItem(MethodView):
    @blp.requires(*ANY)
    @blp.response(200, s.IncidentOut)
    def get(self, incident_id: int) -> IncidentView:
        """One incident."""
        return incidents.get_incident(incident_id)

    @blp.requires("reporter")
    @blp.arguments(s.IncidentPatch)
    @blp.response(200, s.IncidentOut)
    def patch(self, body: dict[str, Any], incident_id: int) -> IncidentView:
        """Corrections during the RCA: severity, feature, caused_by (the deployment it is attributed to)."""
        return incidents.correct_incident(incident_id=incident_id, actor=actor(), **body)


@blp.route("/incidents/<id:incident_id>/ack", methods=["POST"])
@blp.requires("reporter")
@blp.arguments(s.EmptyIn)
@blp.response(200, s.IncidentOut)
def acknowledge(body: dict[str, Any], incident_id: int) -> IncidentView:
    """Acknowledge: the response deadline is met if this is in time."""
    return incidents.acknowledge(incident_id=incident_id, actor=actor())


@blp.route("/incidents/<id:incident_id>/resolve", methods=["POST"])
@blp.requires("reporter")
@blp.arguments(s.EmptyIn)
@blp.response(200, s.IncidentOut)
def resolve(body: dict[str, Any], incident_id: int) -> IncidentView:
    """Resolve (never revives a killed flag)."""
    return incidents.resolve(incident_id=incident_id, actor=actor())


@blp.route("/incidents/<id:incident_id>/rca-items", methods=["POST"])
@blp.requires("reporter")
@blp.arguments(s.RcaIn)
@blp.response(201, s.RcaOut)
def open_rca_item(body: dict[str, Any], incident_id: int) -> RcaView:
    """Add an RCA follow-up; the `rca` check blocks rings that ask for it until it is closed."""
    return incidents.open_rca_item(incident_id=incident_id, title=body["title"], actor=actor())


@blp.route("/rca-items/<id:item_id>/close", methods=["POST"])
@blp.requires("reporter")
@blp.arguments(s.EmptyIn)
@blp.response(200, s.RcaOut)
def close_rca_item(body: dict[str, Any], item_id: int) -> RcaView:
    """Close an RCA item."""
    return incidents.close_rca_item(item_id=item_id, actor=actor())


@blp.route("/features/<key>/bugs")
class Bugs(MethodView):
    @blp.requires("reporter")
    @blp.arguments(s.BugIn)
    @blp.response(201, s.BugOut)
    def post(self, body: dict[str, Any], key: str) -> bugs_changes.BugView:
        """Open a bug on the feature."""
        return bugs_changes.open_bug(key=key, actor=actor(), **body)

    @blp.requires(*ANY)
    @blp.arguments(s.BugQuery, location="query")
    @blp.response(200, s.BugOut(many=True))
    def get(self, args: dict[str, Any], key: str) -> list[bugs_changes.BugView]:
        """The feature's bugs, newest first; ?status=open."""
        return bugs_changes.list_bugs(key=key, status=args["status"], **page(args))


@blp.route("/bugs/<id:bug_id>/close", methods=["POST"])
@blp.requires("reporter")
@blp.arguments(s.EmptyIn)
@blp.response(200, s.BugOut)
def close_bug(body: dict[str, Any], bug_id: int) -> bugs_changes.BugView:
    """Close a bug."""
    return bugs_changes.close_bug(bug_id=bug_id, actor=actor())


@blp.route("/features/<key>/changes", methods=["POST"])
@blp.requires("reporter", "ci")
@blp.arguments(s.ChangeIn)
@blp.response(201, s.ChangeOut)
def report_change(body: dict[str, Any], key: str) -> bugs_changes.ChangeView:
    """Report a commit of the feature; its lead time ends at the feature's next deployment."""
    return bugs_changes.report_change(key=key, actor=actor(), **body)


@blp.route("/metrics/dora")
@blp.requires(*ANY)
@blp.arguments(s.DoraQuery, location="query")
@blp.response(200, s.DoraOut)
def dora_metrics(args: dict[str, Any]) -> dict[str, Any]:
    """The four DORA metrics over the last N UTC days, each with its level from a DORA report's table."""
    return dora.metrics(days=args["days"], benchmark=args["benchmark"])
