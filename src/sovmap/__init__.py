"""sovmap: map, measure and reduce dependence on foreign technology providers, with evidence."""

__version__ = "0.1.0"
