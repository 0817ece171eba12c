"""Messages of the reports per language, from data files keyed by stable codes."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

LANGUAGES = ("en", "nl")


class MessageError(KeyError):
    """A code has no message in a language."""


@cache
def messages(lang: str) -> dict[str, str]:
    if lang not in LANGUAGES:
        raise MessageError(f"unknown language {lang!r}: choose one of {', '.join(LANGUAGES)}")
    text = (resources.files("sovmap.report") / "messages" / f"{lang}.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise MessageError(f"messages/{lang}.yaml: expected a mapping of code to text")
    return {str(k): v for k, v in data.items()}


def t(lang: str, code: str, **params: Any) -> str:
    """The message ``code`` in ``lang`` with its placeholders filled."""
    try:
        template = messages(lang)[code]
    except KeyError:
        raise MessageError(f"no {lang} message for code {code!r}") from None
    return template.format(**params) if params else template
