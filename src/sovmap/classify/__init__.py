"""Observations -> findings with evidence. Pure: rules are data, evaluators few and small."""

from sovmap.classify.classifier import classify
from sovmap.classify.findings import Rules, default_rules, noisy_or

__all__ = ["Rules", "classify", "default_rules", "noisy_or"]
