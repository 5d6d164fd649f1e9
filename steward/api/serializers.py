"""Shared serializer behaviour for request bodies."""

from collections.abc import Mapping

from rest_framework import serializers
from rest_framework.settings import api_settings


class StrictInputMixin:
    """Refuse fields the serializer does not know (a misspelt field would otherwise be dropped silently).

    Known read-only fields are ignored as usual, so a client can send back what it read.
    """

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                label = "Unknown field" if len(unknown) == 1 else "Unknown fields"
                raise serializers.ValidationError({
                    api_settings.NON_FIELD_ERRORS_KEY: [f"{label}: {', '.join(unknown)}."],
                    **{name: ["Unknown field."] for name in unknown},
                })
        return super().to_internal_value(data)


class StrictSerializer(StrictInputMixin, serializers.Serializer):
    """The API's plain serializer: refuses unknown fields in what it reads."""


class StrictModelSerializer(StrictInputMixin, serializers.ModelSerializer):
    """The API's model serializer: refuses unknown fields in what it reads."""
