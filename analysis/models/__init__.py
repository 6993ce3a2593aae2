"""Jet-parton assignment networks (torch): SAJA; SPA-NET to follow."""
