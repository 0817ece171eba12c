"""Who controls a register's provider: its ownership chain handed to the one control rule.

The chain follows ``parent`` ids from entry to entry. A parent that has no entry of its own
is known by what the child says of it (``parent_name``, ``parent_country``); a parent known
only by name gets the id ``name:<name>``, one known by country only gets no id (the provider
is then its own group). A cycle stops at the last company not seen before. What follows
from the chain (controlling jurisdiction, headquarters, legal reach) is
:func:`sovmap.control.control_from_chain`'s answer, not this module's.
"""

from __future__ import annotations

from sovmap.control import Control, Link, control_from_chain
from sovmap.register.model import Provider, Register


def _link(prov: Provider) -> Link:
    return Link(
        prov.id,
        prov.name,
        country=prov.country.value or "",
        jurisdiction=prov.jurisdiction.value or "",
        tags=tuple(prov.tags.value or ()),
    )


def _parent_by_description(prov: Provider, parent_id: str = "") -> Link | None:
    name = prov.parent_name.value or ""
    country = prov.parent_country.value or ""
    if not (parent_id or name or country):
        return None
    return Link(parent_id or (f"name:{name}" if name else ""), name, country=country)


def control_of(register: Register, provider_id: str) -> Control:
    """The control of ``provider_id`` from the register's ownership chain.

    An id the register does not hold gives a chain of that id alone: control unknown, which
    risk and cut-off count as the worst case."""
    links: list[Link] = []
    seen: set[str] = set()
    prov = register.providers.get(provider_id)
    if prov is None:
        return control_from_chain((Link(provider_id),))
    while prov is not None:
        seen.add(prov.id)
        links.append(_link(prov))
        parent_id = prov.parent.value or ""
        if parent_id in seen:  # itself, or a cycle
            break
        nxt = register.providers.get(parent_id)
        if nxt is None:
            described = _parent_by_description(prov, parent_id)
            if described is not None:
                links.append(described)
        prov = nxt
    return control_from_chain(links)


__all__ = ["control_of"]
