"""The OpenAPI schema says what the API answers: its error statuses, and CSV only where a list streams it."""

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

CSV = "text/csv"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# Query parameters that cannot make a request invalid: DRF ignores unknown orderings; a bad page is a 404.
HARMLESS_QUERY = {"format", "ordering", "page", "page_size"}


class ErrorSerializer(serializers.Serializer):
    """Every API error: a readable `detail`, with `problems` where there are several (see steward.api.exceptions)."""

    detail = serializers.CharField()
    problems = serializers.JSONField(required=False, help_text="Each problem: per field for invalid input, per row for a table.")


ERRORS = {
    "400": "The input is not valid: `detail` says why; `problems` lists each problem.",
    "403": "Not signed in, or your role does not allow this.",
    "404": "No such object, or no such page of the list.",
    "409": "A rule does not allow this now (for example, you no longer hold the pair): `detail` says which.",
}


class StewardAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, documenting the errors each operation can answer and CSV on lists only."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        parameters = operation.get("parameters", [])
        query = {p["name"] for p in parameters if p["in"] == "query"}
        anonymous = {} in operation.get("security", [])
        codes = set()
        if method in WRITES - {"DELETE"} or query - HARMLESS_QUERY:
            codes.add("400")
        if not anonymous:
            codes.add("403")
        if any(p["in"] == "path" for p in parameters) or "page" in query:
            codes.add("404")
        if method in WRITES and not anonymous:
            codes.add("409")  # services refuse what their rules forbid (steward.errors.ServiceError)
        responses = operation["responses"]
        for code in sorted(codes - set(responses)):
            responses[code] = self._error_response(code, ERRORS[code])
        for code, response in responses.items():
            if code >= "400" and "content" in response:
                response["content"] = {"application/json": response["content"].get("application/json")
                                       or self._error_response(code, "")["content"]["application/json"]}
        return operation

    def _error_response(self, code: str, description: str) -> dict:
        return self._get_response_for_code(ErrorSerializer, code, ["application/json"]) | {"description": description}

    def offers_csv(self) -> bool:
        """CSV is for lists (`?format=csv`, streamed, every matching row), not for single objects or writes."""
        return self.method == "GET" and (self._is_list_view() or getattr(self.view, "csv_list", False))

    def map_renderers(self, attribute: str) -> list:
        renderers = super().map_renderers(attribute)
        if not self.offers_csv():
            renderers = [r for r in renderers if r not in (CSV, "csv")]
        return renderers

    def _get_response_for_code(self, serializer, status_code, media_types=None, direction="response"):
        response = super()._get_response_for_code(serializer, status_code, media_types, direction)
        if CSV in response.get("content", {}):
            response["content"][CSV] = {"schema": {
                "type": "string", "description": "Every matching row as CSV, header row first (even when none match); not paginated."}}
        return response
