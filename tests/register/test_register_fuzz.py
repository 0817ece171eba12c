"""Bad input never crashes the reader: any value replaced by anything gives problems with a
file and a line, or a valid register - never an exception."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from regtools import EXAMPLE

from sovmap.register.files import check_register
from sovmap.register.yamlio import dump_yaml, load_yaml

FILES = {p.name: load_yaml(p.read_text())[0] for p in EXAMPLE.glob("*.yaml")}

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["NO", "2024-02-30", "XX", "S20", "eba_TA:S19", "9999-12-31", "inferred"]),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.sampled_from(["value", "provenance", "x"]), st.text(max_size=5), max_size=2),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _replace(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    if isinstance(node, dict):
        return {k: (_replace(v, path[1:], value) if k == path[0] else v) for k, v in node.items()}
    return [(_replace(v, path[1:], value) if i == path[0] else v) for i, v in enumerate(node)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_single_bad_value_gives_problems_not_exceptions(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(FILES)))
    path = data.draw(st.sampled_from(_paths(FILES[name])))
    value = data.draw(junk)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for other in EXAMPLE.iterdir():
            (root / other.name).write_bytes(other.read_bytes())
        (root / name).write_text(dump_yaml(_replace(FILES[name], path, value)))
        result = check_register(root)
        for p in result.problems:
            assert p.file and p.line >= 1 and p.code


ROI_EXAMPLE = EXAMPLE.parent / "roi"
CELLS = [
    "",
    "x",
    "NO",
    "eba_GA:XX",
    "2024-02-30",
    "-1",
    "1.5",
    "eba_TA:S20",
    "eba_BT:x28",
    "eba_qCO:qx2000",
    "F9",
    "PF-2019-002",
    "9999-12-31",
    "abc,def",
]


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_an_roi_without_blocking_problems_always_imports(data: st.DataObject) -> None:
    from datetime import date

    from sovmap.register.roi import BLOCKING, check_roi, read_roi
    from sovmap.register.roi_convert import register_to_roi, roi_to_register

    roi, _ = read_roi(ROI_EXAMPLE)
    template = data.draw(st.sampled_from(sorted(t for t, rows in roi.items() if rows)))
    row = data.draw(st.sampled_from(roi[template]))
    column = data.draw(st.sampled_from(sorted(c for c in row if c != "_line")))
    row[column] = data.draw(st.sampled_from(CELLS) | st.text(max_size=8))
    problems = check_roi(roi)
    for p in problems:
        assert p.file.startswith("reports/b_") and p.line >= 2
    if not any(p.code in BLOCKING for p in problems):
        register_to_roi(roi_to_register(roi), date(2026, 3, 31))  # never raises
