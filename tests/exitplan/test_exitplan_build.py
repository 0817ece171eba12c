from __future__ import annotations

import pytest

from sovmap.control import Link, control_from_chain
from sovmap.exitplan.build import (
    ExitSettings,
    ExitTarget,
    apply_what_if,
    build_plan,
    parse_settings,
    parse_what_if,
    remove_tasks,
    select_targets,
)
from sovmap.exitplan.catalogue import (
    default_alternatives,
    default_templates,
    options_for,
    parse_alternatives,
    parse_templates,
)
from sovmap.exitplan.model import Estimate, Plan, PlanError, Task
from sovmap.exitplan.schedule import schedule
from sovmap.knowledge import default_catalogue

ENTRA = ExitTarget("entra", "Entra ID", "identity", "microsoft", "Microsoft", "US")
EXO = ExitTarget("exo", "Exchange Online", "mail", "microsoft", "Microsoft", "US")
OVH = ExitTarget("ovh-vm", "OVH VMs", "iaas", "ovh", "OVHcloud", "FR")


def test_bundled_data_validates_and_has_sources() -> None:
    alts = default_alternatives()
    assert alts and all(a.source.startswith("https://") for a in alts)
    tpl = default_templates()
    assert tpl.calibration and all(src.startswith("https://") for _, src in tpl.calibration)
    known = set(default_catalogue().providers)
    assert all(a.knowledge_id in ("", a.provider) for a in alts)
    assert {a.knowledge_id for a in alts if a.knowledge_id} <= known
    # every capability that has a template has at least one European alternative
    for cap in tpl.templates:
        if cap != tpl.fallback:
            assert options_for(cap), cap
    assert all(a.jurisdiction in ("", "DE", "FR", "CH", "SI", "NL") for a in alts)


def test_options_sorted_production_first() -> None:
    opts = options_for("sso")  # alias of identity
    assert [o.maturity for o in opts] == sorted(
        (o.maturity for o in opts), key=["production", "established", "emerging"].index
    )
    assert {o.id for o in opts} >= {"keycloak", "univention"}


def test_identity_before_mail_and_export_before_decommission() -> None:
    plan = build_plan((ENTRA, EXO))
    after = {t.id: t.after for t in plan.tasks}
    # shared work is planned per target platform: identity, workplace (mail, documents, chat)
    assert "identity/build" in after["workplace/build"]
    assert "identity/cutover" in after["workplace/pilot"]
    assert "exo/export" in after["exo/decommission"]
    s = {st.task.id: st for st in schedule(plan).tasks}
    assert s["workplace/pilot"].start >= s["identity/cutover"].finish
    # without an identity exit the cross-template link simply disappears
    alone = build_plan((EXO,))
    assert next(t for t in alone.tasks if t.id == "workplace/build").after == ("workplace/procure",)


def test_settings_select_override_and_done() -> None:
    text = """
exit: {jurisdictions: [us], exclude: [entra]}
teams: {workplace: 6}
estimates: {"exo/migrate": [10, 20, 30]}
done: [workplace/procure]
"""
    st = parse_settings(text, "exit.yaml")
    plan = build_plan((EXO,), st)
    tasks = {t.id: t for t in plan.tasks}
    assert "workplace/procure" not in tasks
    assert tasks["workplace/build"].after == ()  # its only predecessor is done
    assert tasks["exo/migrate"].estimate == Estimate(10, 20, 30)
    assert plan.teams["workplace"] == 6
    with pytest.raises(PlanError, match=r"exit.yaml:2: field teams/workplace"):
        parse_settings("exit: {}\nteams: {workplace: -1}\n", "exit.yaml")
    with pytest.raises(PlanError, match="field done: unknown task"):
        build_plan((EXO,), ExitSettings(done=("exo/nope",)))


def test_remove_tasks_keeps_transitive_order() -> None:
    f = Estimate(1, 1, 1)
    plan = Plan(
        (Task("a", "", "T", f), Task("b", "", "T", f, ("a",)), Task("c", "", "T", f, ("b",))),
        {"T": 1},
    )
    assert remove_tasks(plan, {"b"}).tasks[1].after == ("a",)


def test_what_ifs() -> None:
    base = build_plan((ENTRA, EXO, OVH))
    pre = apply_what_if(base, parse_what_if("prebuilt-fallback"))
    ids = {t.id for t in pre.tasks}
    assert "workplace/procure" not in ids and "identity/procure" not in ids
    build = next(t for t in pre.tasks if t.id == "workplace/build")
    assert build.estimate == Estimate(3, 6, 12)  # 0.1 x (30, 60, 120)
    only_mail = apply_what_if(base, parse_what_if("prebuilt-fallback=email"))
    assert "identity/procure" in {t.id for t in only_mail.tasks}
    assert "workplace/procure" not in {t.id for t in only_mail.tasks}
    backup = apply_what_if(base, parse_what_if("data-backup"))
    exp = next(t for t in backup.tasks if t.id == "exo/export")
    assert exp.estimate == Estimate(6, 13.5, 36)
    more = apply_what_if(base, parse_what_if("capacity+2"))
    assert all(more.teams[k] == v + 2 for k, v in base.teams.items())
    one = apply_what_if(base, parse_what_if("capacity:workplace=9"))
    assert one.teams["workplace"] == 9
    both = apply_what_if(base, parse_what_if("prebuilt-fallback, capacity+1"))
    assert both.teams["workplace"] == base.teams["workplace"] + 1
    assert {t.id for t in both.tasks} == ids
    with pytest.raises(PlanError, match="unknown what-if"):
        parse_what_if("more-money")
    assert schedule(pre).makespan < schedule(base).makespan


def test_bad_data_files_name_line_and_field() -> None:
    bad = "version: 1\nalternatives:\n  - id: x\n    name: X\n"
    with pytest.raises(PlanError, match=r"alt.yaml:3: field alternatives/0: 'provider'"):
        parse_alternatives(bad, "alt.yaml")
    tpl_text = (
        "version: 1\nunit: days\ndistribution: pert\ncalibration: []\n"
        "teams: [{id: t, name: T, capacity: 1}]\nfallback_template: s\n"
        "templates:\n  s:\n    tasks:\n"
        "      - {step: a, name: A, team: t, estimate: [1, 2, 3], basis: x, after: [zz]}\n"
    )
    with pytest.raises(PlanError, match=r"t.yaml:10: field templates/s/tasks/0/after"):
        parse_templates(tpl_text, "t.yaml")
    tpl = parse_templates(tpl_text.replace("after: [zz]", "after: []"), "t.yaml")
    assert tpl.canonical("anything") == "s"


def test_targets_selected_by_the_control_rule() -> None:
    ms_ie = control_from_chain(
        (Link("ms-ie", country="IE"), Link("ms", country="US", jurisdiction="US"))
    )
    teams = ExitTarget("teams", "Teams", "chat", "ms-ie", "Microsoft Ireland", "US", ms_ie)
    unknown = ExitTarget("odd", "Odd", "saas", "odd", "Odd Ltd", "")
    every = (ENTRA, OVH, teams, unknown)

    def chosen(*jurisdictions: str) -> set[str]:
        st = ExitSettings(jurisdictions=jurisdictions)
        return {t.service for t in select_targets(every, st)}

    assert chosen("US") == {"entra", "teams"}  # controlled from the US, wherever registered
    assert chosen("IE") == set()  # the exit plan leaves by control, never by headquarters
    assert chosen("EU") == {"ovh-vm"}
    assert chosen("non-EU") == {"entra", "teams", "odd"}  # unknown control: the worst case
    with pytest.raises(PlanError, match="exit/jurisdictions"):
        chosen("Ireland")
