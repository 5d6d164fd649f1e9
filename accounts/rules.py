"""Predicates every app's rules build on: the role capabilities (accounts.roles) as `rules` predicates.

Each app declares its object rules in its own rules.py (`rules` autodiscovers them); services check them with
`ensure_allowed`, pages and the API ask `user.has_perm(rule, obj)` to hide controls and refuse requests.
"""

import rules
from django.contrib.auth.models import AbstractBaseUser

from steward.errors import NotAllowed


def has_capability(capability: str) -> rules.Predicate:
    """A predicate true for users whose role grants the capability (superusers hold every one)."""
    return rules.Predicate(lambda user: user.has_perm(f"accounts.{capability}"), name=f"has_capability:{capability}")


# Stewards and admins settle disagreements between curators, so they may also take back another curator's work.
oversees_curators = has_capability("adjudicate")


def ensure_allowed(user: AbstractBaseUser, rule: str, obj=None, *, message: str) -> None:
    """Refuse with NotAllowed (403 over the API, a warning on pages) unless the rule admits the user."""
    if user is None or not user.has_perm(rule, obj):
        raise NotAllowed(message)
