"""The rows of a domain page's findings table: per finding its row, its evidence table and its
notes (status, history and, for editors, the form to accept, dispute or annotate it).

Written here rather than in ``templates/domain.html``: the domain page is the costliest page
of the load benchmark (bench/web_load.py), and in the template these rows were more than half
of its rendering, a Jinja call and escape per word and number (server CPU per request on
100,000 organisations: 2.52 ms, 1.86 ms with an empty page body, 0.98 ms for the trivial call).
Every value from the store is escaped (:func:`markupsafe.escape`), every word comes from the
catalogue in the page's language (:class:`sovmap.web.i18n_web.Words`). The HTML is the same
as the template wrote, so the page's tests (tests/web/test_finding_notes.py, the a11y and
Dutch-UI checks) read it as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from markupsafe import Markup, escape

from sovmap.model import Evidence
from sovmap.store import notes as nt
from sovmap.web.i18n_web import Words

#: the note form's choices, in the order it offers them
FORM_STATUSES = (nt.DISPUTED, nt.ACCEPTED, nt.NOTED)


class FindingRows:
    """The words of one page (said once), then :meth:`html` for its findings."""

    def __init__(
        self,
        w: Words,
        *,
        domain: str,
        notes: Mapping[tuple[str, str], Mapping[str, Any]],
        editor: bool,
        csrf: str,
        location_probe: str,
        place: Callable[[Evidence], str],
    ) -> None:
        self.w = w
        self.domain = escape(domain)
        self.notes = notes
        self.editor = editor
        self.csrf = escape(csrf)
        self.location_probe = location_probe
        self.place = place
        t = w.t
        cols = ("PROBE", "NAME", "RTYPE", "VALUE", "MATCHED")
        head = "".join(f'<th scope="col">{escape(t("WEB_COL_" + c))}</th>' for c in cols)
        self.evidence_head = (
            f"<thead><tr>{head}"
            f'<th scope="col" class="num">{escape(t("WEB_COL_WEIGHT"))}</th>'
            f'<th scope="col">{escape(t("WEB_COL_SOURCE"))}</th></tr></thead>'
        )
        self.via = escape(t("WEB_VIA"))
        self.unknown = escape(t("UNKNOWN"))
        self.none = escape(t("NOTE_NONE"))
        self.form_status = escape(t("NOTE_FORM_STATUS"))
        self.form_text = escape(t("NOTE_FORM_TEXT"))
        self.submit = escape(t("NOTE_FORM_SUBMIT"))
        self.options = "".join(
            f'<option value="{s}">{escape(t("NOTE_STATUS_" + s.upper()))}</option>'
            for s in FORM_STATUSES
        )

    def html(self, findings: Iterable[Any]) -> Markup:
        """The ``<tr>`` rows of ``findings`` (:class:`sovmap.store.queries.FindingRow`)."""
        out: list[str] = []
        for f in findings:
            self._finding(f, out)
        return Markup("".join(out))

    def _finding(self, f: Any, out: list[str]) -> None:
        w = self.w
        service = f' <span class="muted">{escape(f.service)}</span>' if f.service else ""
        jurisdiction = escape(f.jurisdiction) if f.jurisdiction else self.unknown
        tags = f' <span class="muted">{escape(", ".join(f.tags))}</span>' if f.tags else ""
        out.append(
            '<tr class="finding">\n'
            f"<td>{escape(w.cap(f.capability))}</td>\n"
            f"<td>{escape(w.value('role', f.role))}</td>\n"
            f'<td><a href="/providers/{escape(f.provider)}">{escape(f.provider_name)}</a>'
            f"{service}</td>\n"
            f"<td>{escape(f.parent)}</td>\n"
            f'<td class="{"us" if f.us else ""}">{jurisdiction}{tags}</td>\n'
            f'<td class="num">{escape(w.num(f.confidence, 2))}</td>\n'
            f"<td><code>{escape(f.code)}</code></td></tr>\n"
            '<tr><td colspan="7">\n'
            '<details class="evidence"><summary>'
            f"{escape(w.t('WEB_EVIDENCE', n=w.num(len(f.evidence))))}</summary>\n"
            f'<div class="scroll"><table>\n{self.evidence_head}\n<tbody>\n'
        )
        for e in f.evidence:
            self._evidence(e, out)
        out.append("</tbody></table></div></details>\n")
        self._notes(f, out)
        out.append("</td></tr>\n")

    def _evidence(self, e: Evidence, out: list[str]) -> None:
        if e.probe == self.location_probe and e.fingerprint.startswith("region:"):
            extra = f'<br><span class="muted">{escape(self.place(e))}</span>'
        elif e.chain:
            extra = f'<br><span class="muted">{self.via} {escape(" → ".join(e.chain))}</span>'
        else:
            extra = ""
        if host := e.source_host:
            link = escape(self.w.t("WEB_SOURCE_LINK", host=host))
            source = f'<a href="{escape(e.source)}" rel="noreferrer">{link}</a>'
        else:
            source = str(escape(e.source))
        out.append(
            f"<tr><td>{escape(e.probe)}</td><td><code>{escape(e.qname)}</code></td>"
            f"<td>{escape(e.rtype)}</td><td><code>{escape(e.value)}</code>{extra}</td>\n"
            f'<td><code>{escape(e.fingerprint)}</code></td><td class="num">'
            f"{escape(self.w.num(e.weight))}</td>\n<td>{source}</td></tr>\n"
        )

    def _by(self, n: Any) -> str:
        w = self.w
        status = w.t("NOTE_STATUS_" + n.status.upper())
        return str(escape(w.t("NOTE_BY", status=status, user=n.username, at=w.day(n.at))))

    def _notes(self, f: Any, out: list[str]) -> None:
        w = self.w
        fn = self.notes.get((f.capability, f.provider))
        fid = escape(f"note-{f.capability}-{f.provider}")
        decided = fn["status"] if fn else None
        out.append(
            f'<div class="finding-notes" id="{fid}" '
            f'data-status="{escape(decided.status) if decided else ""}">\n'
        )
        if decided:
            badge = escape(w.t("NOTE_BADGE_" + decided.status.upper()))
            out.append(
                f'<p class="note-status {escape(decided.status)}"><strong>{badge}</strong>: '
                f'{escape(decided.text)} <span class="muted">({self._by(decided)})</span></p>\n'
            )
        history = fn["history"] if fn else []
        opened = " open" if decided and decided.status == nt.DISPUTED else ""
        heading = escape(w.t("NOTE_HEADING", n=w.num(len(history))))
        out.append(f'<details class="notes"{opened}><summary>{heading}</summary>\n')
        if fn:
            items = "".join(
                f'<li><span class="muted">{self._by(n)}</span>'
                f"{': ' + str(escape(n.text)) if n.text else ''}</li>"
                for n in history
            )
            out.append(f'<ol class="note-history">{items}</ol>\n')
        else:
            out.append(f'<p class="muted">{self.none}</p>\n')
        if self.editor:
            out.append(
                f'<form method="post" action="/domains/{self.domain}/notes" class="note-form">\n'
                f'<input type="hidden" name="csrf" value="{self.csrf}">'
                f'<input type="hidden" name="capability" value="{escape(f.capability)}">'
                f'<input type="hidden" name="provider" value="{escape(f.provider)}">\n'
                f'<label for="{fid}-status">{self.form_status}</label>\n'
                f'<select id="{fid}-status" name="status">{self.options}</select>\n'
                f'<label for="{fid}-text">{self.form_text}</label>\n'
                f'<textarea id="{fid}-text" name="text" maxlength="2000" rows="2"></textarea>\n'
                f'<button type="submit">{self.submit}</button>\n'
                "</form>\n"
            )
        out.append("</details>\n</div>\n")
