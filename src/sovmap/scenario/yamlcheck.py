"""Read a YAML settings file and validate it against a JSON Schema, naming file:line and field."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jsonschema
import yaml


@lru_cache(maxsize=8)
def _compose(text: str) -> Any:
    """The node tree of a document, composed once: a parser asks ``line_of`` for every entry
    of one text, and composing it again each time made that quadratic (17 s for the bundled
    exit templates, which the web's provider page loads)."""
    return yaml.compose(text)


def line_of(text: str, path: list[str | int]) -> int:
    """1-based line of ``path`` in a YAML document (the nearest ancestor that exists)."""
    try:
        node: Any = _compose(text)
    except yaml.YAMLError:
        return 1
    line = 1 if node is None else node.start_mark.line + 1
    for part in path:
        nxt = None
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == str(part):
                    nxt = v
                    line = k.start_mark.line + 1
                    break
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            nxt = node.value[part]
            line = nxt.start_mark.line + 1
        if nxt is None:
            break
        node = nxt
    return line


def load_validated(
    text: str, where: str, schema: dict[str, Any], error: type[ValueError] = ValueError
) -> Any:
    """Parse YAML and validate it; raise ``error`` naming file, line and field on failure."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise error(f"{where}:{line}: not valid YAML: {exc}") from exc
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(raw), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        path = list(e.absolute_path)
        field = "/".join(str(p) for p in path) or "(document)"
        raise error(f"{where}:{line_of(text, path)}: field {field}: {e.message}")
    return raw
