"""Jobs' API routes under /api/v1/workspaces/<ws>/."""

from . import lifecycle, runs, submit

urlpatterns = [*submit.urlpatterns, *lifecycle.urlpatterns, *runs.urlpatterns]
