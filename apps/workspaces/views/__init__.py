"""HTML pages and HTMX fragments of the workspaces app, one module per sub-domain."""
