"""Names shared by every stage, in one dependency-free module: the jet classes, the parton
slots and the event categories (their order is the integer coding in every artifact)."""
from __future__ import annotations

LABELS = ("b1", "W1", "b2", "W2", "other")
"""Jet classes; 1 = top (PID +6), 2 = antitop."""
SLOTS = ("b1", "q1_1", "q2_1", "b2", "q1_2", "q2_2")
"""Parton slots; q1 is the W daughter with the higher pT (SAJA paper, Fig. 12)."""
CATEGORIES = ("matched", "unmatched", "background")
