"""Shared machinery with no physics: four-vectors, jagged arrays, provenance, tables, logs, the training loop."""
