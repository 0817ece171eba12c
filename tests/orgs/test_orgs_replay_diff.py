"""Must-show: a diff between two scans of a replay world after changing some of its records.

Real observed records of Austrian municipalities (``<repo>/../shared/data/replay/austria``,
read at test time, never copied into the project) are served by Knot DNS on a free loopback
port. The organisations come in through the whole pipeline: ``sovmap orgs import`` of a list,
``sovmap orgs map --out`` to the scan's CSV, ``sovmap scan``; then three municipalities'
records change (one leaves Microsoft for its own server, one moves to Microsoft 365, one
drops its Sophos gateway), the world is scanned again and ``sovmap diff`` must report exactly
those changes, per organisation.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sovmap.cli import main
from sovmap.orgs.service import diff
from sovmap.orgs.store import list_scans, load_scan, open_store

REPO = Path(__file__).resolve().parents[2]
WORLD = REPO.parent / "shared" / "data" / "replay" / "austria"

#: name -> registrable domain in the world; the municipalities this test maps and scans.
MUNICIPALITIES = {
    "Absam": "absam.at",
    "Absdorf": "absdorf.gv.at",
    "Abtenau": "abtenau.at",
    "Abfaltersbach": "abfaltersbach.at",
    "Aderklaa": "aderklaa.gv.at",
    "Aich": "aich.gv.at",
    "Adlwang": "adlwang.ooe.gv.at",
}

pytestmark = [
    pytest.mark.knot,
    pytest.mark.skipif(not WORLD.is_dir(), reason=f"replay world not present at {WORLD}"),
    pytest.mark.skipif(shutil.which("knotd") is None, reason="knotd not installed"),
]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Knot:
    """knotd serving copies of some of the world's zones, configured from its template."""

    def __init__(self, root: Path, zones: list[str]) -> None:
        self.root, self.zones, self.port = root, zones, _free_port()
        self.zone_dir = root / "zones"
        self.zone_dir.mkdir(parents=True)
        for z in zones:
            shutil.copy(WORLD / "zones" / f"{z}.zone", self.zone_dir / f"{z}.zone")
        self.proc: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        template = (WORLD / "knot.conf.in").read_text()
        run = self.root / "run"
        text = template.replace("PORT", str(self.port)).replace("RUNDIR", str(run))
        # the template names its zone directory ZONES (or, in older copies, its own path)
        text = re.sub(r"(?m)^(\s*storage:\s*)ZONES\s*$", rf"\g<1>{self.zone_dir}", text)
        # the template's storage path is the world's own directory: point it at our copy
        text = re.sub(r"(?m)^(\s*storage:\s*)\S*/zones\s*$", rf"\g<1>{self.zone_dir}", text)
        head = text.split("\nzone:\n", 1)[0]
        return head + "\nzone:\n" + "".join(f"  - domain: {z}\n" for z in self.zones)

    def start(self) -> None:
        (self.root / "run" / "db").mkdir(parents=True, exist_ok=True)
        conf = self.root / "knot.conf"
        conf.write_text(self.config())
        log = (self.root / "knotd.log").open("ab")
        self.proc = subprocess.Popen(["knotd", "-c", str(conf)], stdout=log, stderr=log)
        import dns.message
        import dns.query

        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                q = dns.message.make_query(self.zones[0], "SOA")
                if dns.query.udp(q, "127.0.0.1", port=self.port, timeout=0.5).answer:
                    return
            except Exception:
                time.sleep(0.1)
        raise RuntimeError("knotd did not answer: " + (self.root / "knotd.log").read_text()[-500:])

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    def edit(self, zone: str, drop: list[str], add: list[str]) -> None:
        """Remove the lines matching any ``drop`` pattern, append ``add`` lines."""
        path = self.zone_dir / f"{zone}.zone"
        lines = [
            ln for ln in path.read_text().splitlines() if not any(re.search(p, ln) for p in drop)
        ]
        path.write_text("\n".join([*lines, *add]) + "\n")


@pytest.fixture
def knot(tmp_path: Path) -> Iterator[Knot]:
    server = Knot(tmp_path / "knot", sorted(MUNICIPALITIES.values()))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _scan(csv_path: Path, db: str, port: int, out: Path) -> None:
    argv = ["scan", str(csv_path), "--resolver", f"127.0.0.1:{port}", "--db", db, "--new",
            "--timeout", "5", "--attempts", "4",
            "--quiet", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0


def test_diff_between_two_scans_of_a_changed_replay_world(
    knot: Knot, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "store.sqlite")
    orgs = tmp_path / "municipalities.csv"
    orgs.write_text(
        "name,website,type,group\n"
        + "".join(
            f"{n},https://www.{d}/,municipality,at-sample\n" for n, d in MUNICIPALITIES.items()
        )
    )
    assert main(["orgs", "import", str(orgs), "--db", db]) == 0
    scan_csv = tmp_path / "scan.csv"
    assert main(["orgs", "map", "--db", db, "--out", str(scan_csv)]) == 0
    _scan(scan_csv, db, knot.port, tmp_path / "before.csv")

    # Absdorf leaves Microsoft 365 for its own mail server
    knot.edit(
        "absdorf.gv.at",
        drop=[r"\bMX\b", "spf1", "MS=ms", "autodiscover"],
        add=["@ MX 10 mail.absdorf.gv.at.", '@ TXT "v=spf1 mx -all"', "mail A 127.0.0.1"],
    )
    # Abfaltersbach moves its mailboxes to Microsoft 365
    knot.edit(
        "abfaltersbach.at",
        drop=[r"\bMX\b", "spf1"],
        add=[
            "@ MX 0 abfaltersbach-at.mail.protection.outlook.com.",
            '@ TXT "v=spf1 include:spf.protection.outlook.com -all"',
            "autodiscover CNAME autodiscover.outlook.com.",
        ],
    )
    # Absam drops its Sophos gateway and receives mail at Microsoft directly
    knot.edit("absam.at", drop=[r"\bMX\b"], add=["@ MX 0 absam-at.mail.protection.outlook.com."])
    knot.stop()
    knot.start()
    _scan(scan_csv, db, knot.port, tmp_path / "after.csv")

    result = diff(db)
    got = [
        (e.kind.value, e.subject_name, e.capability.value,
         tuple(p.id for p in e.old), tuple(p.id for p in e.new))
        for e in result.events
    ]  # fmt: skip
    # Abfaltersbach's mail server before the move: its own (or unknown: the world holds no
    # addresses for it); whatever the classifier calls it, it must not be US-controlled.
    scans = list_scans(open_store(db))
    first = load_scan(open_store(db), scans[0].id)
    before = {
        (f.provider, f.jurisdiction)
        for f in first.findings
        if f.domain == "abfaltersbach.at" and f.capability.value == "mailbox"
    }
    assert len(before) == 1 and next(iter(before))[1] != "US", before
    own = (next(iter(before))[0],)
    second = load_scan(open_store(db), scans[1].id)
    after = {
        (f.provider, f.jurisdiction)
        for f in second.findings
        if f.domain == "absdorf.gv.at" and f.capability.value == "mailbox"
    }
    assert len(after) == 1 and next(iter(after))[1] not in ("US", ""), after
    moved = (next(iter(after))[0],)
    assert got == [
        ("PROVIDER_CHANGED", "Abfaltersbach", "mailbox", own, ("microsoft",)),
        ("NEW_US_DEPENDENCY", "Abfaltersbach", "mailbox", own, ("microsoft",)),
        ("JURISDICTION_CHANGED", "Abfaltersbach", "mailbox", own, ("microsoft",)),
        ("NEW_CAPABILITY", "Abfaltersbach", "office-suite", (), ("microsoft",)),
        ("NEW_US_DEPENDENCY", "Abfaltersbach", "office-suite", (), ("microsoft",)),
        ("DEPENDENCY_REMOVED", "Absam", "mail-gateway", ("sophos",), ()),
        ("US_DEPENDENCY_REMOVED", "Absam", "mail-gateway", ("sophos",), ()),
        ("PROVIDER_CHANGED", "Absdorf", "mailbox", ("microsoft",), moved),
        ("US_DEPENDENCY_REMOVED", "Absdorf", "mailbox", ("microsoft",), moved),
        ("JURISDICTION_CHANGED", "Absdorf", "mailbox", ("microsoft",), moved),
        ("DEPENDENCY_REMOVED", "Absdorf", "office-suite", ("microsoft",), ()),
        ("US_DEPENDENCY_REMOVED", "Absdorf", "office-suite", ("microsoft",), ()),
    ]  # fmt: skip
    assert all(e.subject_kind == "org" and not e.uncertain for e in result.events)

    # the CLI prints one line per event naming organisation, capability, old and new provider
    capsys.readouterr()
    assert main(["diff", "--db", db]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 + len(got)
    assert "Absdorf [list:absdorf] | mailbox | Microsoft (US) -> " in "\n".join(lines)

    # the group's trend: 4 of 7 at Microsoft before (Absam, Absdorf, Abtenau, Adlwang) and
    # 4 of 7 after (Absdorf left, Abfaltersbach came)
    trend_csv = tmp_path / "trend.csv"
    assert main(["trend", "--db", db, "--group", "group:at-sample", "--csv", str(trend_csv)]) == 0
    rows = [r.split(",")[3:5] for r in trend_csv.read_text().splitlines()[1:]]
    assert rows == [["7", "4"], ["7", "4"]]
