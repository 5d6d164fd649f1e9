from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework.renderers import JSONRenderer


class SwaggerView(SpectacularSwaggerSplitView):
    """The Swagger UI page; OPTIONS answers in JSON, as on every other route (the page's renderer needs a template)."""

    def get_renderers(self):
        if getattr(self.request, "method", None) == "OPTIONS":
            return [JSONRenderer()]
        return super().get_renderers()
