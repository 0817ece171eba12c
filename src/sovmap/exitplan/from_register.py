"""Exit targets from a register: every service run by a provider, with who controls it."""

from __future__ import annotations

from sovmap.exitplan.build import ExitTarget
from sovmap.register.model import Register
from sovmap.register.ownership import control_of


def exit_targets(reg: Register) -> tuple[ExitTarget, ...]:
    """One target per service that has a provider; in-house services are not exited."""
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
            )
        )
    return tuple(out)
