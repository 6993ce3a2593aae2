"""Permutation-based baselines: chi^2 (and, next, a KLFitter-style kinematic likelihood)."""
