from rest_framework.pagination import PageNumberPagination


class StandardPagination(PageNumberPagination):
    """count/next/previous/results pages; CSV lists are not paginated (see SafeCSVRenderer)."""

    page_size_query_param = "page_size"
    max_page_size = 1000

    def paginate_queryset(self, queryset, request, view=None):
        if getattr(request, "accepted_renderer", None) is not None and request.accepted_renderer.format == "csv":
            return None
        return super().paginate_queryset(queryset, request, view)
