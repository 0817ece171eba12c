"""The register's services as a CycloneDX 1.6 BOM (``services`` plus ``dependencies``).

Each register service becomes a CycloneDX service with its provider (legal entity and
headquarters country), the data assets it stores or processes (``data`` with the register's
classification), and sovmap facts as ``sovmap:*`` properties (capability, deployment, data
location, key control, ultimate parent, jurisdiction, provenance of the provider value).
Service-to-service dependencies become the BOM's ``dependencies``. The output is checked
against the bundled subset of the CycloneDX 1.6 schema.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from sovmap import __version__
from sovmap.register.model import DataUse, Register, Service, Valued

_NS = uuid.UUID("6f1c2d4e-3b7a-5c8d-9e0f-a1b2c3d4e5f6")


@cache
def cyclonedx_schema() -> dict[str, Any]:
    path = resources.files("sovmap.register") / "data" / "cyclonedx-1.6-services.schema.json"
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data


def _prop(name: str, v: Valued[Any]) -> list[dict[str, str]]:
    if v.value is None:
        return []
    value = v.value
    if isinstance(value, tuple):
        value = "; ".join(value)
    return [{"name": f"sovmap:{name}", "value": str(getattr(value, "value", value))}]


def _service(register: Register, svc: Service) -> dict[str, Any]:
    out: dict[str, Any] = {"bom-ref": f"service:{svc.id}", "name": svc.name}
    prov = register.provider_of(svc.id)
    if prov is not None:
        entity: dict[str, Any] = {"name": prov.legal_name.value or prov.name}
        if prov.country.value:
            entity["address"] = {"country": prov.country.value}
        out["provider"] = entity
        out["group"] = prov.name
    if svc.product.value:
        out["description"] = svc.product.value
    data = []
    for asset in register.data_assets.values():
        for link in asset.services:
            if link.service == svc.id:
                data.append(
                    {
                        "flow": "bi-directional" if link.use is DataUse.STORES else "inbound",
                        "classification": (
                            asset.classification.value.value
                            if asset.classification.value
                            else "unclassified"
                        ),
                        "name": asset.name,
                    }
                )
    if data:
        out["data"] = data
    props: list[dict[str, str]] = []
    for name in (
        "capability",
        "deployment",
        "data_location",
        "processing_location",
        "key_control",
        "dora_service_type",
        "substitutability",
        "exit_plan",
    ):
        props += _prop(name, getattr(svc, name))
    if prov is not None:
        chain = register.chain(prov.id, svc.id)
        juris = sorted(
            {
                j
                for pid in chain
                if (p := register.providers.get(pid)) is not None
                and (j := p.jurisdiction.value or p.country.value)
            }
        )
        props.append({"name": "sovmap:provider-chain", "value": " > ".join(chain)})
        if juris:
            props.append({"name": "sovmap:chain-jurisdictions", "value": ",".join(juris)})
    props.append({"name": "sovmap:provider-provenance", "value": svc.provider.origin.value})
    out["properties"] = props
    return out


def register_to_cyclonedx(register: Register, timestamp: datetime) -> dict[str, Any]:
    org = register.organisation
    serial = uuid.uuid5(_NS, f"{org.id}/{timestamp.isoformat()}")
    bom: dict[str, Any] = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": f"urn:uuid:{serial}",
        "version": 1,
        "metadata": {
            "timestamp": timestamp.isoformat().replace("+00:00", "Z"),
            "tools": {
                "components": [{"type": "application", "name": "sovmap", "version": __version__}]
            },
            "component": {"type": "application", "name": org.name, "bom-ref": f"org:{org.id}"},
        },
        "services": [_service(register, s) for s in register.services.values()],
        "dependencies": [
            {
                "ref": f"service:{s.id}",
                "dependsOn": list(dict.fromkeys(f"service:{d.service}" for d in s.depends_on)),
            }
            for s in register.services.values()
            if s.depends_on
        ],
    }
    return bom


def validate_cyclonedx(bom: dict[str, Any]) -> list[str]:
    """Schema errors (empty when valid) plus dangling dependency references."""
    validator = jsonschema.Draft202012Validator(cyclonedx_schema())
    errors = [
        f"{'/'.join(map(str, e.absolute_path)) or '(bom)'}: {e.message}"
        for e in validator.iter_errors(bom)
    ]
    refs = {s.get("bom-ref") for s in bom.get("services", [])}
    for i, dep in enumerate(bom.get("dependencies", [])):
        for ref in [dep["ref"], *dep.get("dependsOn", [])]:
            if ref not in refs:
                errors.append(f"dependencies/{i}: {ref!r} is not a service of this BOM")
    return errors
