"""The scan as a library, under its public name: :mod:`sovmap.collect.pipeline` is its home
(the scan's command line lives in ``sovmap.collect`` and imports it from there)."""

from sovmap.collect.pipeline import (
    Progress,
    ReplayOutcome,
    ScanOutcome,
    ScanSettings,
    in_shard,
    input_digest,
    parse_shard,
    reclassify,
    replay,
    run_scan,
)

__all__ = [
    "Progress",
    "ReplayOutcome",
    "ScanOutcome",
    "ScanSettings",
    "in_shard",
    "input_digest",
    "parse_shard",
    "reclassify",
    "replay",
    "run_scan",
]
