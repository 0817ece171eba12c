"""The trend series as a PNG chart (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sovmap.orgs.history import TrendPoint


def write_trend_png(points: Sequence[TrendPoint], path: Path) -> None:
    """One line per group: share of its organisations with mailboxes at US providers."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - extra not installed
        raise RuntimeError("charts need the 'charts' extra: pip install sovmap[charts]") from exc
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    groups = list(dict.fromkeys(p.group for p in points))
    scans = sorted({(p.scan_id, p.started_at) for p in points})
    labels = [f"#{sid}\n{at[:10]}" for sid, at in scans]
    index = {sid: i for i, (sid, _) in enumerate(scans)}
    for g in groups:
        pts = sorted((p for p in points if p.group == g), key=lambda p: p.scan_id)
        ax.plot(
            [index[p.scan_id] for p in pts],
            [100 * p.share for p in pts],
            marker="o",
            label=f"{g} (n={pts[-1].organisations if pts else 0})",
        )
    ax.set_xticks(range(len(scans)), labels)
    ax.set_ylim(0, 100)
    ax.set_ylabel("% of organisations")
    ax.set_title("Mailboxes at US-controlled providers, per scan")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    plt.close(fig)
