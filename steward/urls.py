from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

import curation.api.views  # noqa: F401  (each app's api views register their viewsets on the router)
import feedback.api.views  # noqa: F401
import lineage.api.views  # noqa: F401
import mastering.api.views  # noqa: F401
import mastering.api.entities  # noqa: F401  (after views: routes keep their order)
from accounts.api import ObtainTokenView
from steward import views
from steward.api.docs import SwaggerView
from steward.api_router import router

admin.site.site_header = "Steward administration"
admin.site.site_title = "Steward admin"

api_urlpatterns = [
    path("auth/token/", ObtainTokenView.as_view(), name="token"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("", include("mastering.api.urls")),
    path("", include("curation.api.urls")),
    path("", include(router.urls)),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/", include((api_urlpatterns, "api"), namespace="api")),
    path("", include("mastering.urls")),
    path("curation/", include("mastering.urls.moved")),
    path("curation/", include("curation.urls")),
    path("lineage/", include("lineage.urls")),
    path("issues/", include("feedback.urls")),
]

handler404 = "steward.views.not_found"
