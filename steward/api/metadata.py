"""OPTIONS answers: what each method of a route accepts, described by the serializer that method reads."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, serializers
from rest_framework.metadata import SimpleMetadata
from rest_framework.request import clone_request


class StewardMetadata(SimpleMetadata):
    """DRF's SimpleMetadata, with each method of a viewset route described as the action it runs."""

    def determine_actions(self, request, view) -> dict:
        # A viewset answers OPTIONS as its "metadata" action, so permissions and serializers keyed on
        # `view.action` would describe no action at all; switch to the action each method runs.
        action_map = getattr(view, "action_map", None) or {}
        answering = getattr(view, "action", None)
        actions = {}
        for method in sorted({"PUT", "POST"} & set(view.allowed_methods)):
            view.request = clone_request(request, method)
            if action_map:
                view.action = action_map.get(method.lower(), answering)
            try:
                view.check_permissions(view.request)
                if method == "PUT" and hasattr(view, "get_object"):
                    view.get_object()
            except (exceptions.APIException, PermissionDenied, Http404):
                continue
            else:
                actions[method] = self.get_serializer_info(view.get_serializer())
            finally:
                view.request = request
                if action_map:
                    view.action = answering
        return actions


class ActionInputsMixin:
    """`action_inputs` names the serializer each custom action reads, so OPTIONS describes its real input."""

    action_inputs: dict = {}

    def get_serializer_class(self):
        if self.action in self.action_inputs:
            return self.action_inputs[self.action]
        return super().get_serializer_class()

    def get_serializer(self, *args, **kwargs):
        # An input serializer describes what to send, not the object: the browsable API's raw forms pass the
        # object, whose fields (a many-to-many manager, say) an input field cannot show.
        if self.action in self.action_inputs and "data" not in kwargs:  # rendering a form, not reading input
            kwargs.pop("instance", None)
            args = ()
        return super().get_serializer(*args, **kwargs)


class NoInput(serializers.Serializer):
    """The input of an action that reads no body (skip, cancel)."""
