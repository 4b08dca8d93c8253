"""HTML pages of jobs: runs.py (job pages, experiments: reading results) and submit.py
(Author > Jobs > New, cancel: running them)."""
