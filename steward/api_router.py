"""One router for the whole API, so URL names and the schema stay uniform.

Each app's api module registers its viewsets here; the URL conf imports those modules (this one imports no app).
"""

from rest_framework.routers import DefaultRouter

router = DefaultRouter()
