"""ttjpa: zero-permutation jet-parton assignment for all-hadronic ttbar, as a workflow."""

__version__ = "0.1.0"
