"""Exit targets from a register: every service run by a provider, with who controls it."""

from __future__ import annotations

from sovmap.exitplan.build import ExitTarget
from sovmap.register.model import DependencyKind, Register
from sovmap.register.ownership import control_of


def exit_targets(reg: Register) -> tuple[ExitTarget, ...]:
    """One target per service that has a provider; in-house services are not exited.

    Targets follow control through the supply chain: the unit to leave is the service the
    organisation contracts. A service it does not contract (no ``contract``) that a contracted
    service is ``hosted-on`` is the supplier's hosting, not the organisation's to re-platform:
    it is no target, and the contracted service carries it (and the provider's
    subcontractors for that service) as ``suppliers``, so that selecting a jurisdiction that
    controls a supplier selects the contracted service.

    Size drivers: ``users`` as the register states it (None when missing), ``integrations``
    the number of register services that depend on it, ``records`` the records of the data
    assets linked to it (None when any is unknown)."""
    dependents: dict[str, int] = {}
    for other in reg.services.values():
        for d in other.depends_on:
            dependents[d.service] = dependents.get(d.service, 0) + 1
    records: dict[str, int | None] = {}
    for asset in reg.data_assets.values():
        for link in asset.services:
            if link.service in records and records[link.service] is None:
                continue
            n = asset.records.value
            records[link.service] = None if n is None else (records.get(link.service) or 0) + n
    hosting: dict[str, list[str]] = {}  # uncontracted service -> contracted services on it
    for other in reg.services.values():
        for d in other.depends_on:
            host = reg.services.get(d.service)
            if (
                d.kind is DependencyKind.HOSTED_ON
                and other.contract.value
                and host is not None
                and not host.contract.value
            ):
                hosting.setdefault(d.service, []).append(other.id)
    out = []
    for s in reg.services.values():
        pid = s.provider.value
        if not pid or pid not in reg.providers or s.id in hosting:
            continue
        control = control_of(reg, pid)
        supplier_ids = [
            hp
            for d in s.depends_on
            if d.service in hosting
            and s.id in hosting[d.service]
            and (hp := reg.services[d.service].provider.value)
            and hp in reg.providers
        ]
        supplier_ids += [x for x in reg.chain(pid, s.id) if x in reg.providers]
        own_group = {pid, control.group}
        suppliers = tuple(
            (x, control_of(reg, x)) for x in dict.fromkeys(supplier_ids) if x not in own_group
        )
        out.append(
            ExitTarget(
                service=s.id,
                name=s.name,
                capability=str(s.capability.value or ""),
                provider=pid,
                provider_name=reg.providers[pid].name,
                jurisdiction=control.effective,
                control=control,
                users=s.users.value,
                integrations=dependents.get(s.id, 0),
                records=records.get(s.id),
                suppliers=suppliers,
            )
        )
    return tuple(out)
