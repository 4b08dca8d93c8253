"""HTML pages of Assets, split by kind: common.py (list, detail, archive, tags: what every
kind shares), then data.py, environments.py, models.py, components.py."""
