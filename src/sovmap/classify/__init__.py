"""Observations -> findings with evidence. Pure: rules are data, evaluators few and small."""

from sovmap.classify.classifier import Rules, classify, default_rules, noisy_or

__all__ = ["Rules", "classify", "default_rules", "noisy_or"]
