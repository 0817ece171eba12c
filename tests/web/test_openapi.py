"""The OpenAPI document: every ``/api/`` route declares a typed success answer (not an empty
or free-form object), the bearer scheme is declared and applies, and the typed answers of the
library-made routes (figures, cut-off, exit, changes) validate against the document."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient
from tests.support.webstore import Store

from sovmap.web.app import create_app
from sovmap.web.features import detect_features

REGISTER = Path(__file__).resolve().parents[2] / "examples" / "register"


@pytest.fixture
def full(store: Store, tmp_path: Path) -> TestClient:
    reg = tmp_path / "register"
    shutil.copytree(REGISTER, reg)
    app = create_app(store.engine, features=detect_features(reg))
    return TestClient(app, base_url="http://testserver")


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = schema["components"]["schemas"][name]
    return node


def _typed(schema: dict[str, Any], node: dict[str, Any]) -> bool:
    """A schema that says what it holds: an object with properties, a typed map or list, a
    string (CSV), or a union of such."""
    node = _resolve(schema, node)
    if "anyOf" in node:
        return all(_typed(schema, n) for n in node["anyOf"] if n.get("type") != "null")
    kind = node.get("type")
    if kind == "object":
        extra = node.get("additionalProperties")
        return bool(node.get("properties")) or (isinstance(extra, dict) and _typed(schema, extra))
    if kind == "array":
        return isinstance(node.get("items"), dict) and _typed(schema, node["items"])
    return kind in {"string", "integer", "number", "boolean"}


def test_every_api_route_has_a_typed_answer_and_the_bearer_scheme(full: TestClient) -> None:
    schema = full.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["bearer"]["description"],
    }
    assert schema["security"] == [{"bearer": []}]
    routes = {
        (path, method)
        for path, item in schema["paths"].items()
        if path.startswith("/api/")
        for method in item
    }
    # the scenario routes and the changes are among them
    assert {("/api/cutoff", "get"), ("/api/exit", "get"), ("/api/changes", "get")} <= routes
    untyped = []
    for path, method in sorted(routes):
        answers = schema["paths"][path][method]["responses"]
        ok = next(code for code in answers if code.startswith("2"))
        content = answers[ok].get("content", {})
        media: dict[str, Any] = next(iter(content.values()), {})
        if not content or not _typed(schema, media.get("schema", {})):
            untyped.append(f"{method.upper()} {path}")
    assert untyped == []


def _validate(schema: dict[str, Any], path: str, body: Any) -> None:
    node = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    # the answer's schema, with the document's components for its $refs to point into
    jsonschema.validate(body, {**node["schema"], "components": schema["components"]})


def test_library_answers_match_the_document(full: TestClient, store: Store) -> None:
    auth = {"Authorization": f"Bearer {store.tokens['viewer']}"}
    schema = full.get("/openapi.json").json()
    for path in ("/api/figures", "/api/cutoff?jurisdiction=US&duration=3d", "/api/exit?runs=200"):
        r = full.get(path, headers=auth)
        assert r.status_code == 200, r.text
        _validate(schema, path.split("?")[0], r.json())
    cut = full.get("/api/cutoff?jurisdiction=US&duration=3d", headers=auth).json()
    assert cut["processes"] and cut["summary"]["processes"] == len(cut["processes"])
    plan = full.get("/api/exit?runs=200&what_if=capacity%2B2", headers=auth).json()
    assert plan["baseline"]["forecast"]["runs"] == 200 and len(plan["what_ifs"]) == 1
    r = full.get("/api/changes", headers=auth)  # the store has two finished scans
    assert r.status_code == 200, r.text
    _validate(schema, "/api/changes", r.json())
    assert r.json()["events"]
