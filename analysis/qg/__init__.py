"""Quark/gluon tagging and its calibration (seed 004)."""
