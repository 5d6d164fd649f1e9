"""One router for the whole API, so URL names and the schema stay uniform."""

from rest_framework.routers import DefaultRouter

router = DefaultRouter()


def register_api_routes() -> None:
    """Each app's api module registers its viewsets on import."""
    import curation.api.views  # noqa: F401
    import feedback.api.views  # noqa: F401
    import lineage.api.views  # noqa: F401
    import mastering.api.views  # noqa: F401


register_api_routes()
