"""Exit targets from a register: every service run by a provider, with who controls it."""

from __future__ import annotations

from sovmap.exitplan.build import ExitTarget
from sovmap.register.model import Register
from sovmap.register.ownership import control_of


def exit_targets(reg: Register) -> tuple[ExitTarget, ...]:
    """One target per service that has a provider; in-house services are not exited.

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
    out = []
    for s in reg.services.values():
        pid = s.provider.value
        if not pid or pid not in reg.providers:
            continue
        control = control_of(reg, pid)
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
            )
        )
    return tuple(out)
