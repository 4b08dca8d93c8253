"""Writes on assets, split by kind: versions.py (what every kind shares), code.py (code
snapshots), and one module per kind (data, environments, models, components)."""
