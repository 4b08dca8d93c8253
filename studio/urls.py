"""The studio's URLs: HTML pages at the root, the REST API under /api/v1/."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.workspaces.views import workspaces as workspace_views
from studio import health

api_v1 = [
    path("", include("apps.workspaces.api.urls")),
    path("", include("apps.assets.api.urls")),
    path("", include("apps.jobs.api.urls")),
    path("", include("apps.designer.api.urls")),
    path("health/", health.health, name="health"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
]

urlpatterns = [
    path("", workspace_views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("tokens/", workspace_views.token_list, name="token-list"),
    path("tokens/<uuid:token_id>/revoke/", workspace_views.token_revoke, name="token-revoke"),
    path("healthz", health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"))),
    path("mlflow/<str:workspace_name>/", include("apps.jobs.mlflow.urls")),
    path("", include("apps.workspaces.urls")),
    path("", include("apps.assets.urls")),
    path("", include("apps.jobs.urls")),
    path("", include("apps.designer.urls")),
]
