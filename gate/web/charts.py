"""Charts drawn as SVG on the server: bars with their values in words, and the numbers in a table too."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from markupsafe import Markup

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 640, 200, 48, 36, 12


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float | None], unit: str) -> Markup:
    """A bar chart; weeks without data are marked, not drawn as zero."""
    known = [v for v in values if v is not None]
    top = max(known) if known and max(known) > 0 else 1.0
    plot_w, plot_h = WIDTH - PAD_LEFT - 8, HEIGHT - PAD_BOTTOM - PAD_TOP
    step = plot_w / max(1, len(values))
    chart_id = "c" + str(abs(hash(title)) % 10**8)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{chart_id}-t {chart_id}-d">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(_describe(labels, values, unit))}</desc>',
        f'<line class="axis" x1="{PAD_LEFT}" y1="{PAD_TOP + plot_h}" x2="{WIDTH - 8}" y2="{PAD_TOP + plot_h}"/>',
        f'<text class="tick" x="{PAD_LEFT - 6}" y="{PAD_TOP + 4}" text-anchor="end">{_fmt(top)}</text>',
        f'<text class="tick" x="{PAD_LEFT - 6}" y="{PAD_TOP + plot_h}" text-anchor="end">0</text>',
    ]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = PAD_LEFT + i * step + step * 0.15
        if value is None:
            parts.append(
                f'<text class="nodata" x="{x + step * 0.35:.1f}" y="{PAD_TOP + plot_h - 4}" '
                f'text-anchor="middle">n/a</text>'
            )
        else:
            h = plot_h * value / top
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{PAD_TOP + plot_h - h:.1f}" width="{step * 0.7:.1f}" '
                f'height="{h:.1f}"><title>{escape(label)}: {_fmt(value)} {escape(unit)}</title></rect>'
            )
        if i % 2 == 0:
            parts.append(
                f'<text class="tick" x="{x + step * 0.35:.1f}" y="{HEIGHT - 12}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value above is escaped or a number


def _fmt(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def _describe(labels: Sequence[str], values: Sequence[float | None], unit: str) -> str:
    return "; ".join(
        f"{label}: {'no data' if v is None else _fmt(v) + ' ' + unit}" for label, v in zip(labels, values, strict=True)
    )


EW, EH, ETOP, EBOTTOM = 240, 64, 6, 14  # an evidence chart: small, one bar per build, newest on the right
LEVEL_CLASSES = (("error", "lv-error"), ("warning", "lv-warning"), ("note", "lv-note"))


def evidence_chart(criterion: str, spec: Mapping[str, Any], points: Sequence[Any]) -> Markup:
    """A criterion's evidence over its last builds (`points`: build, summary, passed; oldest first): coverage
    percent, failed tests, findings by level (stacked) or the measure, with the criterion's limit as a dashed
    line. Each bar has its build and value as a title; a failing build is marked ✗ above its bar, so pass and
    fail differ by more than colour; the whole is described in words for a screen reader."""
    kind = str(spec.get("kind"))
    values = [_evidence_values(kind, spec, p.summary) for p in points]
    limits = [float(v) for v in _limits(kind, spec)]
    top = max([sum(v for _, v in vs) for vs in values] + limits + [1.0])
    if kind == "coverage":
        top = 100.0
    plot_h, step = EH - ETOP - EBOTTOM, (EW - 4) / 20
    chart_id = "e-" + "".join(ch if ch.isalnum() else "-" for ch in criterion)
    what = {"coverage": "coverage %", "tests": "failed tests", "findings": "findings", "measure": str(spec.get("name"))}
    words = "; ".join(
        f"build {p.build}: {_value_words(kind, vs)} ({'passes' if p.passed else 'fails'})"
        for p, vs in zip(points, values, strict=True)
    )
    parts = [
        f'<svg class="evidence-chart" viewBox="0 0 {EW} {EH}" role="img" aria-labelledby="{chart_id}-t {chart_id}-d">',
        f'<title id="{chart_id}-t">{escape(criterion)}: {escape(what[kind])} over the last '
        f"{len(points)} builds</title>",
        f'<desc id="{chart_id}-d">{escape(words or "no evidence yet")}</desc>',
        f'<line class="axis" x1="0" y1="{ETOP + plot_h}" x2="{EW}" y2="{ETOP + plot_h}"/>',
    ]
    for limit in limits:
        y = ETOP + plot_h - plot_h * limit / top
        parts.append(
            f'<line class="limit" x1="0" y1="{y:.1f}" x2="{EW}" y2="{y:.1f}"><title>limit {_fmt(limit)}</title></line>'
        )
    for i, (point, stack) in enumerate(zip(points, values, strict=True)):
        x, base = 2 + i * step, float(ETOP + plot_h)
        for css, value in stack:
            h = plot_h * value / top
            base -= h
            parts.append(
                f'<rect class="{css} {"pass" if point.passed else "fail"}" x="{x:.1f}" y="{base:.1f}" '
                f'width="{step * 0.7:.1f}" height="{h:.1f}"><title>build {escape(point.build)}: '
                f"{escape(_value_words(kind, stack))}</title></rect>"
            )
        if not point.passed:
            parts.append(f'<text class="failmark" x="{x + step * 0.35:.1f}" y="{EH - 2}" text-anchor="middle">✗</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value above is escaped or a number


def _evidence_values(kind: str, spec: Mapping[str, Any], summary: Mapping[str, Any]) -> list[tuple[str, float]]:
    if kind == "coverage":
        return [("bar", float(summary.get("percent", 0)))]
    if kind == "tests":
        return [("bar", float(summary.get("failed", 0)))]
    if kind == "findings":
        return [(css, float(summary.get(level, 0))) for level, css in LEVEL_CLASSES]
    return [("bar", max(0.0, float(summary.get(str(spec.get("name")), 0))))]


def _limits(kind: str, spec: Mapping[str, Any]) -> list[float]:
    if kind == "coverage":
        return [spec["min"]]
    if kind == "tests":
        return [spec["max_failed"]] if spec.get("max_failed") else []
    if kind == "findings":
        return []
    return [spec[k] for k in ("min", "max") if spec.get(k) is not None and spec[k] >= 0]


def _value_words(kind: str, stack: list[tuple[str, float]]) -> str:
    if kind == "coverage":
        return f"{stack[0][1]:.2f}%"
    if kind == "tests":
        return f"{_fmt(stack[0][1])} failed"
    if kind == "findings":
        return ", ".join(f"{_fmt(v)} {level}" for (level, _), (_, v) in zip(LEVEL_CLASSES, stack, strict=True))
    return _fmt(stack[0][1])
