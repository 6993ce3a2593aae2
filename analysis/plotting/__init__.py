"""Figures: one module per figure family, hist + mplhep in CMS style, written as PNG (and PDF)."""
