"""The exit plan's Gantt chart as inline SVG, for the report and the web page alike: the
rendering of :func:`sovmap.exitplan.render.gantt_svg_text` (per target platform, calendar
dates, P50/P90/deadline lines)."""

from __future__ import annotations

from markupsafe import Markup

from sovmap.exitplan.api import ExitReport
from sovmap.exitplan.render import gantt_svg_text


def gantt_svg(rep: ExitReport, lang: str = "en") -> Markup:
    return Markup(gantt_svg_text(rep, lang=lang))
