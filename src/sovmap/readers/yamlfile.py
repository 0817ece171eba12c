"""YAML read with its limits enforced while it is parsed, before anything is built.

A 700-byte file of nested aliases expands to billions of nodes when constructed; deep
``[[[[`` nesting ends in a :class:`RecursionError` in the composer. So the event stream (the C
parser where PyYAML has it) is checked first, lazily, event by event: an alias is refused at
once, depth and node count are counted as they come, and only a document within the limits is
composed and constructed. Without aliases the nodes are bounded by the bytes, and the bytes by
``max_bytes``. Duplicate mapping keys are an error naming their line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sovmap.readers.text import InputError, InputProblem, quote, text_of

MAX_YAML_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 100
MAX_NODES = 2_000_000

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _line_of(exc: yaml.YAMLError, text: str) -> int:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        if mark is not None:
            return int(mark.line) + 1
    position = getattr(exc, "position", None)
    if isinstance(position, int):
        return text.count("\n", 0, position) + 1
    return 1


def _detail(exc: yaml.YAMLError) -> str:
    """The parser's own words for a syntax error (PyYAML's, in English)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        parts = [p for p in (exc.problem, exc.context) if p]
        return "; ".join(parts) or "syntax error"
    return str(exc).splitlines()[0] if str(exc) else "syntax error"


def _syntax(file: str, exc: yaml.YAMLError, text: str) -> InputError:
    return InputError.of(
        file, "YAML_SYNTAX", "INPUT_YAML_SYNTAX", line=_line_of(exc, text), detail=_detail(exc)
    )


def _event_line(event: yaml.Event) -> int:
    mark = event.start_mark
    return int(mark.line) + 1 if mark is not None else 1


def check_events(
    text: str,
    file: str,
    *,
    max_depth: int = MAX_DEPTH,
    max_nodes: int = MAX_NODES,
) -> None:
    """Walk the YAML event stream of ``text`` (every document) and raise :class:`InputError`
    at the first alias, at nesting past ``max_depth`` or past ``max_nodes`` nodes, or at a
    syntax error; cheap (no nodes are built) and stops at the first problem."""
    depth = 0
    nodes = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.AliasEvent):
                raise InputError.of(
                    file,
                    "YAML_ALIAS",
                    "INPUT_YAML_ALIAS",
                    line=_event_line(event),
                    anchor=str(event.anchor),
                )
            if isinstance(event, yaml.NodeEvent):
                nodes += 1
                depth += isinstance(event, yaml.CollectionStartEvent)
                if nodes > max_nodes:
                    raise InputError.of(
                        file, "YAML_LIMIT", "INPUT_YAML_NODES", line=_event_line(event),
                        limit=max_nodes,
                    )  # fmt: skip
                if depth > max_depth:
                    raise InputError.of(
                        file, "YAML_LIMIT", "INPUT_YAML_DEPTH", line=_event_line(event),
                        limit=max_depth,
                    )  # fmt: skip
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError as exc:
        raise _syntax(file, exc, text) from None


def _check_duplicates(node: yaml.Node, file: str) -> None:
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in current.value:
                if isinstance(key, yaml.ScalarNode):
                    line = key.start_mark.line + 1
                    if key.value in seen:
                        raise InputError.of(
                            file,
                            "DUPLICATE_KEY",
                            "INPUT_DUPLICATE_KEY",
                            line=line,
                            key=quote(str(key.value)),
                            first=seen[key.value],
                        )
                    seen[key.value] = line
                stack.append(key)
                stack.append(value)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)


def _text_of(path_or_text: Path | str | bytes, file: str, max_bytes: int) -> tuple[str, str]:
    text, problems, name = text_of(path_or_text, file, max_bytes)
    _refuse(problems)
    return text, name


def _refuse(problems: list[InputProblem]) -> None:
    if problems:  # YAML cannot skip a line: the file is unusable
        first = problems[0]
        raise InputError(
            first.file,
            f"{first.code}: {first.message}",
            line=first.line,
            key=first.key,
            params=first.params,
        )


def compose_yaml(
    path_or_text: Path | str | bytes,
    *,
    file: str = "",
    max_bytes: int = MAX_YAML_BYTES,
    max_depth: int = MAX_DEPTH,
    max_nodes: int = MAX_NODES,
) -> tuple[yaml.Node | None, str]:
    """The node tree of one YAML document (``None`` when empty) and the text it came from,
    after every limit was checked; duplicate keys refused. For readers that need the line of
    every node (the register)."""
    text, name = _text_of(path_or_text, file, max_bytes)
    check_events(text, name, max_depth=max_depth, max_nodes=max_nodes)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as exc:
        raise _syntax(name, exc, text) from None
    finally:
        loader.dispose()
    if node is not None:
        _check_duplicates(node, name)
    return node, text


def load_yaml(
    path_or_text: Path | str | bytes,
    *,
    file: str = "",
    max_bytes: int = MAX_YAML_BYTES,
    max_depth: int = MAX_DEPTH,
    max_nodes: int = MAX_NODES,
) -> Any:
    """The data of one YAML document (PyYAML's safe types), read within the limits; a
    :class:`~pathlib.Path` is read, ``bytes`` decoded, a ``str`` is the text itself. Raises
    :class:`InputError` naming file and line."""
    node, text = compose_yaml(
        path_or_text, file=file, max_bytes=max_bytes, max_depth=max_depth, max_nodes=max_nodes
    )
    if node is None:
        return None
    constructor = yaml.SafeLoader("")
    try:
        return constructor.construct_document(node)
    except yaml.YAMLError as exc:
        name = file or (str(path_or_text) if isinstance(path_or_text, Path) else "<input>")
        raise _syntax(name, exc, text) from None
    finally:
        constructor.dispose()
