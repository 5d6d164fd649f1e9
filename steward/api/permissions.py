"""Role checks for the API: a capability from accounts.roles, or admin for writes."""

from rest_framework.permissions import SAFE_METHODS, BasePermission


def has_capability(capability: str) -> type[BasePermission]:
    """A permission class that admits users whose role grants `capability`."""

    class HasCapability(BasePermission):
        message = f"Your role does not allow this ({capability.replace('_', ' ')})."

        def has_permission(self, request, view) -> bool:
            return bool(request.user and request.user.has_perm(f"accounts.{capability}"))

    HasCapability.__name__ = f"Has_{capability}"
    return HasCapability


def follows_rule(rule: str, message: str) -> type[BasePermission]:
    """A permission class that admits the object a view acts on only where the app's rule (its rules.py) allows.

    The service checks the same rule; asking here too refuses before the request body is validated."""

    class FollowsRule(BasePermission):
        def has_object_permission(self, request, view, obj) -> bool:
            return request.user.has_perm(rule, obj)

    FollowsRule.message = message
    FollowsRule.__name__ = f"Follows_{rule.replace('.', '_')}"
    return FollowsRule


class IsAdminOrReadOnly(BasePermission):
    """Anyone signed in reads; only admins write (sources, entity types)."""

    message = "Only admins can change this configuration."

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or request.user.has_perm("accounts.configure")
