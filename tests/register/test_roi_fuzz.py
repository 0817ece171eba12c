"""A hostile RoI package never crashes import-roi or the export of what it imported: any
cell replaced by anything gives findings (exit 1), a usage error (exit 2) or a register."""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from regtools import EXAMPLE

from sovmap.cli import main

(ROOT,) = [p for p in (EXAMPLE.parent / "roi").iterdir() if p.is_dir()]
TEMPLATES = sorted(p.name for p in (ROOT / "reports").glob("b_*.csv"))

cells = st.one_of(
    st.text(max_size=10),
    st.sampled_from(
        [
            "",
            "Not applicable",
            "eba_GA:qx2007",
            "eba_qCO:qx2004",
            "9999-12-31",
            "2024-02-30",
            "2E0",
            "-1",
            "1e400",
            "true",
            "a,b",
            '"',
            "724500PFVELDHOVEN021",
        ]
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_changed_cell_never_crashes_the_import(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(TEMPLATES))
    rows = list(csv.reader(io.StringIO((ROOT / "reports" / name).read_text())))
    if len(rows) < 2:
        return
    r = data.draw(st.integers(1, len(rows) - 1))
    c = data.draw(st.integers(0, len(rows[r]) - 1))
    rows[r][c] = data.draw(cells)
    with tempfile.TemporaryDirectory() as tmp:
        pkg = Path(tmp) / ROOT.name
        shutil.copytree(ROOT, pkg)
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        (pkg / "reports" / name).write_text(buf.getvalue())
        out = Path(tmp) / "reg"
        code = main(["register", "import-roi", str(pkg), "--out", str(out), "--allow-loss"])
        assert code in (0, 1, 2)
        if out.exists() and code == 0:
            args = ["register", "export", str(out), "--format", "dora-roi", "--out", tmp + "/x"]
            assert main([*args, "--date", "2025-12-31"]) in (0, 1)


@pytest.mark.parametrize("junk", [b"\x00\x01PK", b"", "ü;ä\n".encode("utf-16")])
def test_a_broken_file_is_a_clear_error(tmp_path: Path, junk: bytes) -> None:
    pkg = tmp_path / ROOT.name
    shutil.copytree(ROOT, pkg)
    (pkg / "reports" / "b_02.01.csv").write_bytes(junk)
    code = main(["register", "import-roi", str(pkg), "--out", str(tmp_path / "reg")])
    assert code in (1, 2)
