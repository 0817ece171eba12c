"""A domain's base questions made in one go (Scanner._start) are the very queries the general
path (DomainScan.start through Scanner.ask) makes, and a follow-up that lands on a base
question is not asked twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sovmap.collect.engine import Engine, EngineConfig
from sovmap.collect.inputs import DomainInput
from sovmap.collect.probes import DomainScan, ProbePlan, default_plan
from sovmap.collect.scanner import Scanner
from sovmap.devserver import DevServer
from sovmap.model import DomainResult

DOMAINS = [
    "a.nl",
    "gemeente-utrecht.example.nl",
    "xn--mnchen-3ya.de",
    "x" * 63 + "." + "y" * 63 + "." + "z" * 60 + ".test",
]


def _queued(plan: ProbePlan, domain: str, fast: bool) -> list[tuple[Any, ...]]:
    engine = Engine(EngineConfig(resolvers=[("127.0.0.1", 9)]))
    try:
        scanner = Scanner(engine, plan)
        scan = DomainScan(domain, plan, scanner)
        if fast:
            scanner._start(scan)
        else:
            scan.start()
        queued = [*engine._queue, *engine._fresh]  # follow-ups and new domains' questions
        assert scan.pending == len(queued)
        return [
            (
                type(q).__name__,
                q.qname,
                q.qtype,
                q.qtype_code,
                q.wire,
                q.body,
                q.attempt,
                q.resolver,
                q.deadline_gen,
                q.answers_cb.__func__,  # type: ignore[attr-defined]
                q.answers_cb.__self__ is scan,  # type: ignore[attr-defined]
                q.probe,  # type: ignore[attr-defined]
                q.via,  # type: ignore[attr-defined]
                q.depth,  # type: ignore[attr-defined]
            )
            for q in queued
        ]
    finally:
        engine.close()


@pytest.mark.parametrize("domain", DOMAINS)
def test_base_questions_made_in_one_go_equal_the_general_path(domain: str) -> None:
    plan = default_plan()
    fast = _queued(plan, domain, True)
    assert fast == _queued(plan, domain, False)
    assert len(fast) == plan.base_queries


def test_a_domain_whose_prefixed_names_could_be_too_long_takes_the_checked_path() -> None:
    domain = ".".join(["a" * 60] * 4) + ".w.test"  # 250 characters
    queued = _queued(default_plan(), domain, True)
    assert queued and all(len(q[1]) <= 253 for q in queued)
    assert len(queued) < default_plan().base_queries


def test_a_follow_up_that_is_a_base_question_is_not_asked_again(tmp_path: Path) -> None:
    (tmp_path / "z").mkdir()
    (tmp_path / "z" / "b.test.zone").write_text(
        "$ORIGIN b.test.\n$TTL 60\n@ SOA ns h 1 60 60 60 60\n@ NS ns\nns A 127.0.0.1\n"
        "www CNAME b.test.\n"
    )
    got: list[DomainResult] = []
    with DevServer(tmp_path / "z") as srv:
        engine = Engine(EngineConfig(resolvers=[(srv.host, srv.port)], timeout=0.5))
        Scanner(engine, default_plan()).run([DomainInput("b.test", 1)], got.append)
        engine.close()
    (result,) = got
    apex_a = [o for o in result.observations if o.qname == "b.test" and o.qtype == "A"]
    assert [(o.probe, o.via) for o in apex_a] == [("web", "")]
    www_a = [o for o in result.observations if o.qname == "www.b.test" and o.qtype == "A"]
    assert [r.rtype for r in www_a[0].answers][:1] == ["CNAME"]
    assert len(result.observations) == result.queries


@pytest.mark.parametrize("maker", ["python", "c"])
def test_new_observation_is_the_dataclass_field_for_field(maker: str) -> None:
    import gc
    import sys
    from dataclasses import fields

    from sovmap.collect.wire import fast
    from sovmap.model import RR, Observation, Status, new_observation

    if maker == "c" and fast is None:
        pytest.skip("C accelerator not built")
    make = new_observation if maker == "python" else fast.observation
    values = ("mx", "a.example", "MX", Status.NOERROR, (RR("a.example", "MX", 60, "10 m"),), "v")
    made, built = make(*values), Observation(*values)
    tracked = gc.is_tracked(made)  # the answers tuple can hold anything: the collector sees it
    refs = sys.getrefcount(values[4])
    del made
    after = sys.getrefcount(values[4])
    assert tracked
    assert after == refs - 1  # freed, and its slots released
    made = make(*values)
    assert [f.name for f in fields(Observation)] == [
        "probe",
        "qname",
        "qtype",
        "status",
        "answers",
        "via",
    ]
    assert type(made) is Observation and made == built and hash(made) == hash(built)
    assert tuple(getattr(made, f.name) for f in fields(Observation)) == values
    with pytest.raises(AttributeError):
        made.probe = "txt"  # type: ignore[misc]
    if maker == "c":
        with pytest.raises(TypeError):
            fast.observation(*values[:5])
