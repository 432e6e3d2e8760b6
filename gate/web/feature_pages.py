"""The board and a feature's page, with the forms that vote, expose and run its release plan."""

from __future__ import annotations

from flask import flash, render_template, request, url_for
from werkzeug.wrappers import Response

from gate import schemas
from gate.domain.roles import PEOPLE as ANY
from gate.errors import InvalidInput, NotFound
from gate.services import board, plans, releases, votes
from gate.web.views import confirmed, load_form, me, run_form, signed_in, web


@web.route("/")
@signed_in(*ANY)
def board_page() -> str:
    owner = request.args.get("owner") or None
    state = request.args.get("state") or None
    if state is not None and state not in board.STATES:
        raise InvalidInput(f"state must be one of {', '.join(board.STATES)}")
    search = (request.args.get("q") or "").strip()[:200] or None
    rows, owners = board.board(owner=owner, state=state, search=search)
    return render_template(
        "board.html", rows=rows, owners=owners, owner=owner, state=state, states=board.STATES, search=search
    )


@web.route("/features/<key>")
@signed_in(*ANY)
def feature(key: str) -> str:
    return render_template("feature.html", page=board.feature_page(key, me().name))


@web.route("/features/<key>/criteria/<criterion>/vote", methods=["POST"])
@signed_in("qa")
def vote(key: str, criterion: str) -> Response:
    def cast_vote() -> None:
        body = load_form(schemas.VoteIn())
        votes.cast_vote(key=key, criterion=criterion, actor=me().name, **body)
        flash(f"Voted {body['vote']} on {criterion}.", "ok")

    return run_form(url_for("web.feature", key=key), cast_vote)


@web.route("/features/<key>/promote", methods=["POST"])
@signed_in("release")
def promote(key: str) -> Response:
    def act() -> None:
        body = load_form(schemas.PromoteIn())
        releases.promote(key=key, percent_bp=body.pop("percent"), principal=me(), **body)
        flash(f"Promoted to {body['ring']}.", "ok")

    return run_form(url_for("web.feature", key=key), act)


@web.route("/features/<key>/rollout", methods=["POST"])
@signed_in("release")
def rollout(key: str) -> Response:
    def act() -> None:
        releases.rollout(key=key, percent_bp=load_form(schemas.RolloutIn())["percent"], actor=me().name)
        flash("Rollout changed.", "ok")

    return run_form(url_for("web.feature", key=key), act)


@web.route("/features/<key>/rollback", methods=["POST"])
@signed_in("release")
def rollback(key: str) -> Response:
    def act() -> None:
        confirmed("rollback")
        body = load_form(schemas.RollbackIn(), ring=None)
        releases.rollback(key=key, actor=me().name, **body)
        flash(f"Rolled back to {body['ring'] or 'off'}.", "ok")

    return run_form(url_for("web.feature", key=key), act)


@web.route("/features/<key>/kill", methods=["POST"])
@signed_in("release")
def kill(key: str) -> Response:
    def act() -> None:
        confirmed("kill")
        releases.kill(key=key, actor=me().name, **load_form(schemas.KillIn()))
        flash("Killed.", "ok")

    return run_form(url_for("web.feature", key=key), act)


@web.route("/features/<key>/revive", methods=["POST"])
@signed_in("release")
def revive(key: str) -> Response:
    return run_form(url_for("web.feature", key=key), lambda: releases.revive(key=key, actor=me().name), "Revived.")


PLAN_ACTIONS = {
    "start": "Plan started.",
    "pause": "Plan paused.",
    "resume": "Plan resumed.",
    "cancel": "Plan cancelled.",
}


@web.route("/features/<key>/plan/<action>", methods=["POST"])
@signed_in("release")
def plan_action(key: str, action: str) -> Response:
    if action not in PLAN_ACTIONS:
        raise NotFound(f"no plan action {action!r}")
    use_case = getattr(plans, action)
    return run_form(
        url_for("web.feature", key=key),
        lambda: use_case(key=key, actor=me().name, token_id=me().token_id),
        PLAN_ACTIONS[action],
    )
