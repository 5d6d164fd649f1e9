from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group
from django.db import transaction
from rest_framework.authtoken.models import Token

from accounts.roles import Role
from steward.errors import InvalidInput


@transaction.atomic
def create_user(*, username: str, password: str, role: str, email: str = "", exists_ok: bool = False) -> AbstractUser:
    """Create (or with exists_ok, update) a user holding exactly one role."""
    if role not in Role.values:
        raise InvalidInput(f"Unknown role {role!r}; choose one of: {', '.join(Role.values)}.")
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is not None and not exists_ok:
        raise InvalidInput(f"A user named {username!r} already exists.")
    if user is None:
        user = User(username=username, email=email)
    user.is_staff = user.is_superuser = role == Role.ADMIN
    user.set_password(password)
    user.save()
    user.groups.set([Group.objects.get(name=role)])
    return user


def issue_token(*, user: AbstractUser) -> Token:
    """Hand the user their API token, creating it on first login."""
    token, _ = Token.objects.get_or_create(user=user)
    return token
