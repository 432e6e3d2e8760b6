"""Charts drawn as SVG on the server: bars with their values in words, and the numbers in a table too."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

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
