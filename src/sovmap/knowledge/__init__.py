"""The knowledge base: providers, parents, jurisdictions and fingerprints as validated data."""

from sovmap.knowledge.catalogue import (
    Catalogue,
    Fingerprint,
    KnowledgeError,
    Match,
    Provider,
    default_catalogue,
    load_catalogue,
)

__all__ = [
    "Catalogue",
    "Fingerprint",
    "KnowledgeError",
    "Match",
    "Provider",
    "default_catalogue",
    "load_catalogue",
]
