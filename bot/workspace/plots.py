"""Plots for the workspace's dashboards, drawn on the server as SVG with matplotlib (no
charting script, no CDN: the workspace works offline). Each function takes plain numbers
and returns the SVG text; the pages show the same numbers in a table beside each plot, for
screen readers and for whoever wants the figures. Labels are in Latin letters (English
language names): the plotting fonts do not shape Arabic script or have Ge'ez letters.

matplotlib's object interface (Figure, not pyplot) keeps no global state, so plots can be
drawn in the server's worker threads at once.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

# what a plot's response allows: its own inline styles, nothing else (no script runs in <img>)
CSP = "default-src 'none'; style-src 'unsafe-inline'"
COLOURS = ("#1f5fa8", "#2e8b57", "#d08c1f", "#b03a48", "#6a5acd", "#5f6b7a")
TEXT = "#1c2430"


def _figure(width: float = 7.0, height: float = 2.8):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    ax = fig.subplots()
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(colors=TEXT, labelsize=9)
    return fig, ax


def _svg(fig) -> str:
    out = io.StringIO()
    fig.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()


def _empty(ax, message: str = "nothing in this period") -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", color=TEXT, transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def bars(labels: Sequence[str], values: Sequence[float], ylabel: str = "") -> str:
    """Vertical bars, e.g. one per day."""
    fig, ax = _figure()
    if not any(values):
        _empty(ax)
    else:
        positions = range(len(labels))
        ax.bar(positions, values, color=COLOURS[0])
        step = max(1, len(labels) // 10)
        ax.set_xticks(list(positions)[::step], list(labels)[::step], rotation=0)
        ax.set_ylabel(ylabel, color=TEXT)
        ax.yaxis.get_major_locator().set_params(integer=True)
    return _svg(fig)


def horizontal(labels: Sequence[str], values: Sequence[float], xlabel: str = "") -> str:
    """Horizontal bars, largest at the top, e.g. one per language."""
    fig, ax = _figure(height=max(1.6, 0.32 * len(labels) + 0.8))
    if not any(values):
        _empty(ax)
    else:
        order = sorted(range(len(labels)), key=lambda i: values[i])
        ax.barh([labels[i] for i in order], [values[i] for i in order], color=COLOURS[0])
        ax.set_xlabel(xlabel, color=TEXT)
        ax.xaxis.get_major_locator().set_params(integer=True)
    return _svg(fig)


def stacked_shares(
    labels: Sequence[str], parts: dict[str, Sequence[float]], xlabel: str = "share"
) -> str:
    """One horizontal bar per label, split into the shares of `parts` (each row sums to 1)."""
    fig, ax = _figure(height=max(2.2, 0.34 * len(labels) + 1.5))
    if not labels:
        _empty(ax)
    else:
        left = [0.0] * len(labels)
        for colour, (name, values) in zip(COLOURS, parts.items(), strict=False):
            ax.barh(labels, values, left=left, color=colour, label=name)
            left = [a + b for a, b in zip(left, values, strict=True)]
        ax.set_xlim(0, 1)
        ax.set_xlabel(xlabel, color=TEXT)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), ncols=3, fontsize=8)
    return _svg(fig)
