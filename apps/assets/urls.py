"""Assets' HTML routes. Each kind's module keeps its own `urlpatterns`; common.py holds the
list and detail pages every kind shares (its routes come last: the kinds' fixed segments
such as `-/new/` win over a name)."""

from .views import common, components, data, environments, models

app_name = "assets"

urlpatterns = [
    *data.urlpatterns,
    *environments.urlpatterns,
    *models.urlpatterns,
    *components.urlpatterns,
    *common.urlpatterns,
]
