"""SVG timeline for `fact-resilience simulate --plot`: one panel per config, a state band over
time and, above it, the rolling failure rate, plus the slow-call rate and the ramp's admitted
share when the config's policies move them. Pure presentation: the figures come from the
core's simulator."""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence
from xml.sax.saxutils import escape as _escape

STATE_COLOURS = {"closed": "#2e9e5b", "half_open": "#e0a106", "open": "#d6453d"}
#: Curves on the 0-1 axis: (sample key, label, colour, dash pattern, drawn when any sample has
#: this value off its resting level). The failure rate is always drawn.
CURVES = [
    ("failure_rate", "failure rate", "#1f5fbf", "", None),
    ("slow_call_rate", "slow-call rate", "#8e44ad", "6 3", 0.0),
    ("ramp_share", "ramp share", "#117a65", "2 2", 1.0),
]
WIDTH, LEFT, RIGHT = 900, 130, 20
PANEL, BAND, GAP, TOP = 120, 18, 30, 40


# Characters XML 1.0 cannot hold at all, escaped or not (controls, lone surrogates, U+FFFE/F).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# In an attribute, quotes would end the value and whitespace would be normalised to a space.
_ATTR = {'"': "&quot;", "'": "&apos;", "\t": "&#9;", "\n": "&#10;", "\r": "&#13;"}


def escape(text: str) -> str:
    """User-given text made safe for SVG text and attribute values (both quoted with ``"``):
    markup and quotes escaped, characters XML cannot hold replaced with U+FFFD."""
    return _escape(_NOT_XML.sub("\ufffd", text), _ATTR)


def timeline_svg(results: Sequence[tuple[str, Mapping[str, Any]]], title: str) -> str:
    """Renders `(label, report)` pairs; every report must come from the same trace."""
    duration = max((r["duration_seconds"] for _, r in results), default=0.0) or 1.0
    plot_w = WIDTH - LEFT - RIGHT
    height = TOP + len(results) * (PANEL + GAP) + 30

    def x(t: float) -> float:
        return LEFT + plot_w * min(max(t / duration, 0.0), 1.0)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
        f'<text x="{LEFT}" y="22" font-size="15" font-weight="bold">{escape(title)}</text>',
    ]
    for i, (label, report) in enumerate(results):
        top = TOP + i * (PANEL + GAP)
        curve_h = PANEL - BAND - 8
        band_y = top + curve_h + 8
        out.append(f'<g class="panel" data-config="{escape(label)}">')
        out.append(f'<text x="8" y="{top + 14}" font-weight="bold">{escape(label)}</text>')
        out.append(f'<text x="8" y="{top + 30}" fill="#555">rates, share</text>')
        out.append(f'<text x="8" y="{band_y + 13}" fill="#555">state</text>')
        # Axes of the failure-rate curve: 0 and 1.
        out.append(
            f'<rect class="curve-frame" x="{LEFT}" y="{top}" width="{plot_w}" '
            f'height="{curve_h}" fill="#f7f7f7" stroke="#ccc"/>'
        )
        for frac, text in ((0.0, "1.0"), (1.0, "0.0")):
            out.append(
                f'<text x="{LEFT - 4}" y="{top + frac * curve_h + 4}" text-anchor="end" '
                f'fill="#777">{text}</text>'
            )
        # State band: one rect per span between transitions.
        spans = _state_spans(report, duration)
        for start, end, state in spans:
            out.append(
                f'<rect class="state {state}" x="{x(start):.2f}" y="{band_y}" '
                f'width="{max(x(end) - x(start), 0.5):.2f}" height="{BAND}" '
                f'fill="{STATE_COLOURS[state]}">'
                f"<title>{state} {start:.1f}s-{end:.1f}s</title></rect>"
            )
        for key, _, colour, dash, rest in CURVES:
            samples = report["samples"]
            if rest is not None and all(p.get(key, rest) == rest for p in samples):
                continue
            # A rate breaks where the window holds no completed call (it is undefined there).
            for run in _runs(samples) if key != "ramp_share" else [samples]:
                points = " ".join(
                    f"{x(p['at_seconds']):.2f},{top + (1 - p[key]) * curve_h:.2f}" for p in run
                )
                out.append(
                    f'<polyline class="{key.replace("_", "-")}" points="{points}" fill="none" '
                    f'stroke="{colour}" stroke-width="1.5" stroke-dasharray="{dash}"/>'
                )
        out.append("</g>")
    axis_y = TOP + len(results) * (PANEL + GAP) - GAP + 16
    for k in range(6):
        t = duration * k / 5
        out.append(
            f'<text class="tick" x="{x(t):.2f}" y="{axis_y}" text-anchor="middle" '
            f'fill="#555">{_fmt_seconds(t, duration)}</text>'
        )
    legend_x = LEFT
    for state, colour in STATE_COLOURS.items():
        out.append(
            f'<rect x="{legend_x}" y="{axis_y + 8}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{legend_x + 16}" y="{axis_y + 18}">{state}</text>'
        )
        legend_x += 100
    for _, label, colour, dash, _ in CURVES:
        out.append(
            f'<line x1="{legend_x}" y1="{axis_y + 14}" x2="{legend_x + 20}" y2="{axis_y + 14}" '
            f'stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>'
            f'<text x="{legend_x + 24}" y="{axis_y + 18}">{label}</text>'
        )
        legend_x += 130
    out.append("</svg>")
    return "\n".join(out)


def _state_spans(report: Mapping[str, Any], duration: float) -> list[tuple[float, float, str]]:
    spans, state, since = [], "closed", 0.0
    for t in report["timeline"]:
        spans.append((since, t["at_seconds"], state))
        state, since = t["to"], t["at_seconds"]
    spans.append((since, duration, state))
    return [s for s in spans if s[1] > s[0]] or [(0.0, duration, state)]


def _runs(samples: Sequence[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    runs: list[list[Mapping[str, Any]]] = [[]]
    for s in samples:
        if s["window_calls"]:
            runs[-1].append(s)
        elif runs[-1]:
            runs.append([])
    return [r for r in runs if r]


def _fmt_seconds(t: float, duration: float) -> str:
    return f"{t:.0f}s" if duration < 300 else f"{t / 60:.0f}m"
