"""The milestones page (contract 8.3): each feature's components on a time axis against today, by team."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from html import escape

from flask import render_template, request
from markupsafe import Markup

from gate.domain.roles import PEOPLE as ANY
from gate.services import components
from gate.services.components import ComponentView
from gate.services.context import now
from gate.web.views import signed_in, web

W, ROW, LEFT, TOP = 760, 26, 210, 34
MARKS = {"delivered": "✓", "pending": "○", "late": "✗"}  # the state is a glyph and a word, not only a colour


def state_of(c: ComponentView) -> str:
    return "delivered" if c.delivered_at is not None else "late" if c.late else "pending"


def timeline_svg(feature: str, parts: Sequence[ComponentView], today: date) -> Markup:
    """One feature's components as marks on a time axis from before the earliest day to after the latest, today
    drawn as a line; each mark has its words as a title, and the whole is described for a screen reader."""
    days = [c.due for c in parts] + [today] + [c.delivered_at.date() for c in parts if c.delivered_at]
    start, end = min(days) - timedelta(days=3), max(days) + timedelta(days=3)
    span = max(1, (end - start).days)

    def x(day: date) -> float:
        return LEFT + (W - LEFT - 20) * (day - start).days / span

    height = TOP + ROW * len(parts) + 8
    words = "; ".join(f"{c.id} ({c.team}): {_words(c)}" for c in parts)
    ident = "m-" + "".join(ch if ch.isalnum() else "-" for ch in feature)
    out = [
        f'<svg class="milestones" viewBox="0 0 {W} {height}" role="img" aria-labelledby="{ident}-t {ident}-d">',
        f'<title id="{ident}-t">{escape(feature)}: components against today, {today.isoformat()}</title>',
        f'<desc id="{ident}-d">{escape(words)}</desc>',
        f'<line class="axis" x1="{LEFT}" y1="{TOP - 10}" x2="{W - 20}" y2="{TOP - 10}"/>',
        f'<text class="tick" x="{LEFT}" y="{TOP - 16}">{start.isoformat()}</text>',
        f'<text class="tick" x="{W - 20}" y="{TOP - 16}" text-anchor="end">{end.isoformat()}</text>',
        f'<line class="today" x1="{x(today):.1f}" y1="{TOP - 14}" x2="{x(today):.1f}" y2="{height - 4}"/>',
        f'<text class="today-label" x="{x(today):.1f}" y="{height - 6}" text-anchor="middle">today</text>',
    ]
    for i, c in enumerate(parts):
        y, state = TOP + ROW * i + ROW / 2, state_of(c)
        label = f"{escape(c.id)} · {escape(c.team)}"
        out.append(f'<text class="label" x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
        out.append(f'<line class="track" x1="{LEFT}" y1="{y:.1f}" x2="{W - 20}" y2="{y:.1f}"/>')
        if c.delivered_at is not None:
            done = x(c.delivered_at.date())
            out.append(f'<line class="span" x1="{done:.1f}" y1="{y:.1f}" x2="{x(c.due):.1f}" y2="{y:.1f}"/>')
        where = x(c.delivered_at.date()) if c.delivered_at else x(c.due)
        out.append(f'<line class="due" x1="{x(c.due):.1f}" y1="{y - 8:.1f}" x2="{x(c.due):.1f}" y2="{y + 8:.1f}"/>')
        out.append(
            f'<text class="mark {state}" x="{where:.1f}" y="{y + 5:.1f}" text-anchor="middle">{MARKS[state]}'
            f"<title>{escape(c.id)}: {escape(_words(c))}</title></text>"
        )
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every value above is escaped or a number


def _words(c: ComponentView) -> str:
    if c.delivered_at is not None:
        return f"delivered {c.delivered_at:%Y-%m-%d}, due {c.due.isoformat()}"
    if c.late:
        return f"late by {c.days_late} day{'s' if c.days_late != 1 else ''}, due {c.due.isoformat()}"
    return f"pending, due {c.due.isoformat()}"


@web.route("/milestones")
@signed_in(*ANY)
def milestones_page() -> str:
    everything = components.listing()
    teams = sorted({c.team for c in everything})
    team = request.args.get("team") or None
    shown = [c for c in everything if team is None or c.team == team]
    by_feature: dict[str, list[ComponentView]] = defaultdict(list)
    for c in shown:
        by_feature[c.feature].append(c)
    today = now().date()
    charts = {key: timeline_svg(key, parts, today) for key, parts in by_feature.items()}
    return render_template(
        "milestones.html",
        by_feature=by_feature,
        charts=charts,
        teams=teams,
        team=team,
        today=today,
        state_of=state_of,
        words=_words,
        marks=MARKS,
    )
