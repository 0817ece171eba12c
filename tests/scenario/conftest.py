from __future__ import annotations

import pytest

from sovmap.scenario import (
    Backup,
    DataAsset,
    Dependency,
    Fallback,
    Inventory,
    ProcessNode,
    ProviderNode,
    ServiceNode,
    Threshold,
)


@pytest.fixture
def inventory() -> Inventory:
    """A small agency, small enough to work out every result by hand.

    microsoft (US) runs entra (identity) and exo (mail, signs in through entra); github has
    microsoft as parent; hrco (NL) runs an HR SaaS on aws (US) that signs in through entra;
    the portal sits behind two CDNs (cloudflare, US, and ovh, FR), either suffices; the
    rulings database is on premises.
    """
    return Inventory(
        providers=(
            ProviderNode("microsoft", "Microsoft", jurisdiction="US"),
            ProviderNode("github", "GitHub", parent="microsoft", jurisdiction="US"),
            ProviderNode("aws", "Amazon Web Services", jurisdiction="US"),
            ProviderNode("cloudflare", "Cloudflare", jurisdiction="US"),
            ProviderNode("ovh", "OVHcloud", jurisdiction="FR"),
            ProviderNode("hrco", "HR Co", jurisdiction="NL", subcontractors=("aws",)),
        ),
        services=(
            ServiceNode("entra", capability="identity", provider="microsoft"),
            ServiceNode(
                "exo",
                capability="mailbox",
                provider="microsoft",
                depends_on=(Dependency.on("entra"),),
            ),
            ServiceNode("repo", capability="saas", provider="github"),
            ServiceNode(
                "hr-saas", capability="saas", provider="hrco", depends_on=(Dependency.on("entra"),)
            ),
            ServiceNode("cdn-a", capability="cdn", provider="cloudflare"),
            ServiceNode("cdn-b", capability="cdn", provider="ovh"),
            ServiceNode("ovh-mail", capability="mailbox", provider="ovh"),
            ServiceNode(
                "portal", capability="web-hosting", depends_on=(Dependency.on("cdn-a", "cdn-b"),)
            ),
            ServiceNode("db", capability="database"),
        ),
        data=(
            DataAsset("rulings", classification="confidential", stored_in=("db",)),
            DataAsset("mail-archive", stored_in=("exo",), backups=(Backup("ovh-mail", 48.0),)),
        ),
        processes=(
            ProcessNode(
                "mail",
                depends_on=(Dependency.on("exo"),),
                data=("mail-archive",),
                rto_hours=24.0,
                mtpd_hours=72.0,
                people=500,
                organisations=1,
                thresholds=(
                    Threshold(4.0, "minor"),
                    Threshold(24.0, "serious"),
                    Threshold(168.0, "critical"),
                ),
                fallbacks=(
                    Fallback("teams-chat", 2.0, requires=("entra",)),
                    Fallback("ovh-webmail", 96.0, requires=("ovh-mail",)),
                ),
            ),
            ProcessNode(
                "assessment",
                depends_on=(Dependency.on("db"), Dependency.on("exo", soft=True)),
                data=("rulings",),
                rto_hours=72.0,
                people=1000,
                organisations=2,
            ),
            ProcessNode("hr", depends_on=(Dependency.on("hr-saas"),), rto_hours=168.0, people=40),
            ProcessNode(
                "publish",
                depends_on=(Dependency.on("portal"),),
                rto_hours=8.0,
                people=20000,
                organisations=5,
            ),
            ProcessNode("archive", depends_on=(Dependency.on("db"),)),
        ),
    )
