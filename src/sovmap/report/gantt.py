"""The exit plan's Gantt chart as inline SVG, for the report and the web page alike."""

from __future__ import annotations

from typing import Any

from sovmap.exitplan.api import ExitReport
from sovmap.report import svg


def gantt_svg(rep: ExitReport, title: str = "Exit plan (mean durations)") -> Any:
    tasks = [
        svg.GanttTask(
            f"{s.task.group}: {s.task.name}" if s.task.group else s.task.name,
            s.start,
            s.finish,
            group=s.task.group,
            critical=s.task.group in rep.baseline.forecast.critical
            and rep.baseline.forecast.critical[s.task.group] >= 0.5,
        )
        for s in sorted(rep.schedule.tasks, key=lambda s: (s.start, s.finish))
    ]
    return svg.gantt(tasks, title=title, deadline=rep.deadline_days, unit="d")
