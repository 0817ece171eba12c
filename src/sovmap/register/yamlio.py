"""Read YAML keeping the line of every value, so errors can name file, line and field.

Scalars follow YAML 1.2 core rules rather than PyYAML's YAML 1.1 defaults: ``NO``, ``yes``,
``on`` stay strings (``NO`` is Norway), dates stay ISO strings (the model parses them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from sovmap.readers import InputError, compose_yaml

Path_ = tuple[str | int, ...]

_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}


@dataclass
class LineMap:
    """1-based line of every mapping key / sequence item / scalar, by path from the root."""

    lines: dict[Path_, int] = field(default_factory=dict)

    def line(self, path: Path_ | list[str | int]) -> int:
        """The line of ``path`` or of its nearest ancestor that has one."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), 1)


class YamlSyntaxError(ValueError):
    """A YAML file that cannot be read; ``code``: YAML_SYNTAX, YAML_ALIAS, YAML_LIMIT,
    DUPLICATE_KEY, ENCODING or TOO_LARGE."""

    def __init__(
        self,
        line: int,
        message: str,
        code: str = "YAML_SYNTAX",
        *,
        key: str = "",
        params: tuple[tuple[str, Any], ...] = (),
    ) -> None:
        super().__init__(message)
        self.line = line
        self.message = message
        self.code = code
        self.key = key  # the input layer's catalogue message, for a Dutch rendering
        self.params = params


def _scalar(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    if node.style:  # quoted or block scalar: always a string
        return node.value
    tag = node.tag
    if tag.endswith(":bool"):
        return _BOOL.get(node.value, node.value)
    if tag.endswith(":timestamp"):
        return node.value
    if tag.endswith((":int", ":float", ":null")):
        return loader.construct_object(node)
    return node.value


def _walk(loader: yaml.SafeLoader, node: yaml.Node, path: Path_, lines: LineMap) -> Any:
    lines.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(_scalar(loader, key_node)) if isinstance(key_node, yaml.ScalarNode) else "?"
            if key in out:
                line = key_node.start_mark.line + 1
                raise YamlSyntaxError(line, f"duplicate key {key!r}", "DUPLICATE_KEY")
            lines.lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _walk(loader, value_node, (*path, key), lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(loader, item, (*path, i), lines) for i, item in enumerate(node.value)]
    assert isinstance(node, yaml.ScalarNode)
    return _scalar(loader, node)


def load_yaml(text: str | bytes, file: str = "<register>") -> tuple[Any, LineMap]:
    """Parse one YAML document; return the plain data and the line of every path.

    Read by :func:`sovmap.readers.compose_yaml`: bytes are decoded (UTF-8, UTF-16 with BOM),
    aliases are refused and depth, node count and size are limited while the document is
    parsed (an alias bomb costs milliseconds), duplicate keys are errors; every problem raises
    :class:`YamlSyntaxError` with its line."""
    lines = LineMap()
    try:
        node, _ = compose_yaml(text, file=file)
    except InputError as exc:
        raise YamlSyntaxError(
            exc.line or 1,
            exc.message,
            exc.code or "YAML_SYNTAX",
            key=exc.key,
            params=exc.params,
        ) from None
    if node is None:
        return None, lines
    loader = yaml.SafeLoader("")
    try:
        return _walk(loader, node, (), lines), lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YamlSyntaxError(line, f"not valid YAML: {exc.problem or exc}") from exc
    finally:
        loader.dispose()


def dump_yaml(data: Any) -> str:
    """Write YAML that :func:`load_yaml` reads back to the same data (strings quoted as needed)."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


class _Dumper(yaml.SafeDumper):
    pass


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # quote anything YAML 1.1 would read as another type (NO, yes, 2024-01-01, 1e3, ~)
    resolved = dumper.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    style = "'" if resolved != "tag:yaml.org,2002:str" or value.lower() in _YES_NO else None
    if "\n" in value:
        style = "|"
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_YES_NO = {"yes", "no", "on", "off", "y", "n"}

_Dumper.add_representer(str, _str_representer)
