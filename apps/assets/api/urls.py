"""Assets' API routes under /api/v1/workspaces/<ws>/: each kind's module, then the shared
list/show/update/archive routes of common.py."""

from . import code, common, components, data, environments, models

urlpatterns = [
    *data.urlpatterns,
    *environments.urlpatterns,
    *models.urlpatterns,
    *components.urlpatterns,
    *code.urlpatterns,
    *common.urlpatterns,
]
