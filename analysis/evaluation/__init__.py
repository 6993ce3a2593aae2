"""Metrics, mass reconstruction, generator study and attention maps from the methods' assignments."""
