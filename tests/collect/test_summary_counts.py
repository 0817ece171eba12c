"""The scan's printed summary: its provider table is counted by the database
(``Store.finding_counts``) and gives what reading every finding gives (``summarise``); its
capability table shows the headline figures of :mod:`sovmap.figures`; on SQLite and
PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support.postgres import postgres_server, postgres_url  # noqa: F401

from sovmap import figures
from sovmap.export import render_summary, summarise, summarise_counts
from sovmap.model import Capability, DomainResult, Finding
from sovmap.store import Store

# (capability, provider name, jurisdiction, tags, role)
KINDS = [
    (Capability.MAILBOX, "Microsoft", "US", ("us-cloud-act",), "primary"),
    (Capability.MAILBOX, "self-hosted", "NL", (), "primary"),
    (Capability.MAILBOX, "unknown.example", "", (), "primary"),
    (Capability.MAIL_GATEWAY, "Proofpoint", "US", ("us-cloud-act",), "primary"),
    (Capability.MAILBOX, "Microsoft", "US", ("us-cloud-act",), "behind-gateway"),
    (Capability.MAILBOX, "Google", "US", (), "behind-relay"),
    (Capability.OUTBOUND, "Mailchimp", "US", ("us-cloud-act",), "additional"),  # not counted
    (Capability.WEB, "Hoster", "DE", ("us-cloud-act",), "primary"),  # a US parent: US
    (Capability.CDN, "Cloudflare", "US", ("us-cloud-act",), "primary"),
]


def _check(store: Store) -> None:
    sid = store.start_scan(input="x", input_digest="d")
    batch = []
    for i in range(60):
        domain = f"d{i:02d}.example"
        fs = [
            Finding(domain, cap, f"p{k}", name, "", jur, 0.9, "CODE", (), tags, "", role)
            for k, (cap, name, jur, tags, role) in enumerate(KINDS)
            if (i + k) % (k + 1) == 0
        ]
        batch.append((DomainResult(domain, (), {}, 0, 0, i), fs))
    store.write_results(sid, batch, "kv")
    counts = store.finding_counts(sid)
    assert sum(n for *_, n in counts) == sum(len(fs) for _, fs in batch)
    want, got = summarise(store.iter_findings(sid), 60), summarise_counts(counts, 60)
    assert got.by_capability == want.by_capability
    assert got.providers == want.providers
    assert got.by_capability["web-hosting"] == {"US": want.by_capability["web-hosting"]["US"]}
    store.finish_scan(sid)
    with store.connect() as conn:
        figs = figures.compute(conn, store.latest_finished(), rows=False)
    lines = list(render_summary(figs, got))
    assert lines[0] == f"60 domains scanned (scan {sid})"
    mailbox = next(line for line in lines if line.startswith("mailbox "))
    us, non, unk = (figs.value(f"mailbox_{k}_domains") for k in ("us", "non_us", "unknown"))
    assert mailbox.split()[1:4] == [str(us), str(non), str(unk)]


def test_summary_counts_on_sqlite(tmp_path: Path) -> None:
    _check(Store(tmp_path / "s.sqlite"))


@pytest.mark.postgres
def test_summary_counts_on_postgres(postgres_url: str) -> None:  # noqa: F811
    store = Store(postgres_url)
    try:
        _check(store)
    finally:
        store.close()
