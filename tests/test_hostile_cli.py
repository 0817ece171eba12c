"""The command line driven end to end with mutated inputs (issue 19): ``scan``, ``orgs import``
and ``register check`` must exit with a documented code (0, 1 or 2) and, on 2, one
``sovmap: error:`` line; never a traceback (an exception escaping ``main`` fails the test).
``SOVMAP_FUZZ_EXAMPLES`` scales the number of inputs (``make fuzz``). Each of the issue's cases
and the regression tests that hold its input: ``docs/hostile-input.md``."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sovmap.cli import main
from sovmap.devserver import DevServer
from support.mutate import PIECES, mutated

ROOT = Path(__file__).resolve().parents[1]
DEMO = Path(str(resources.files("sovmap") / "data" / "demo"))
EXAMPLE_REGISTER = ROOT / "examples" / "register"
BODIES = ROOT / "tests" / "orgs" / "data" / "bodies.csv"
_BASE = int(os.environ.get("SOVMAP_FUZZ_EXAMPLES", "150"))


def _fuzz(share: int) -> settings:
    """Settings for a CLI fuzz test: ``1/share`` of the per-reader examples (a command run is
    slower than a reader call), at least 10."""
    return settings(
        max_examples=max(10, _BASE // share),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


_PIECES = (*PIECES, b"x" * 140_000)  # and a field over the 128 KiB limit


def _mutated(seed: bytes) -> st.SearchStrategy[bytes]:
    return mutated(seed, _PIECES)


def _check(code: int, err: str) -> None:
    assert code in (0, 1, 2), err
    assert "Traceback" not in err
    if code == 2:
        assert sum(1 for line in err.splitlines() if line.startswith("sovmap: error:")) == 1, err


@pytest.fixture(scope="module")
def server() -> Iterator[DevServer]:
    with DevServer(DEMO / "zones") as srv:
        yield srv


@_fuzz(6)
@given(data=_mutated((DEMO / "domains.csv").read_bytes()))
def test_fuzz_cli_scan_of_a_mutated_list(
    data: bytes, server: DevServer, capsys: pytest.CaptureFixture[str]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "domains.csv"
        path.write_bytes(data)
        argv = ["scan", str(path), "--resolver", server.address, "--timeout", "0.2"]
        code = main([*argv, "--db", str(Path(tmp) / "s.sqlite"), "--workers", "1", "--quiet"])
    err = capsys.readouterr().err
    _check(code, err)
    if code == 0:  # the accounting line is always printed and adds up
        line = next(x for x in err.splitlines() if ": input: rows read " in x)
        found = re.search(r"rows read ([\d,]+) = accepted ([\d,]+) \+ rejected ([\d,]+)$", line)
        assert found is not None, line
        read, accepted, rejected = (int(n.replace(",", "")) for n in found.groups())
        assert read == accepted + rejected


@_fuzz(3)
@given(data=_mutated(BODIES.read_bytes()))
def test_fuzz_cli_orgs_import_of_a_mutated_list(
    data: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bodies.csv"
        path.write_bytes(data)
        code = main(["orgs", "import", str(path), "--db", str(Path(tmp) / "s.sqlite")])
    _check(code, capsys.readouterr().err)


_REGISTER_FILES = sorted(p.name for p in EXAMPLE_REGISTER.iterdir() if p.is_file())


@_fuzz(3)
@given(name=st.sampled_from(_REGISTER_FILES), data=st.data())
def test_fuzz_cli_register_check_of_a_mutated_file(
    name: str, data: st.DataObject, capsys: pytest.CaptureFixture[str]
) -> None:
    mutated = data.draw(_mutated((EXAMPLE_REGISTER / name).read_bytes()))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "reg"
        shutil.copytree(EXAMPLE_REGISTER, root)
        (root / name).write_bytes(mutated)
        code = main(["register", "check", str(root)])
    _check(code, capsys.readouterr().err)
