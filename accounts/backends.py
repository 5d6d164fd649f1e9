"""Django's model backend, with a user's permissions (own and through roles) cached per process.

Every API call and page asks for the user's permissions; joining permissions, roles and users for that cost a
query with four tables on each request. The set is kept per process under the stamp of the one
`PermissionsVersion` row, which the signal receivers below change in the same transaction as any change to a
role, a role's permissions or a user's roles or own permissions; a request reads the stamp by its key and
loads the permissions again only when it differs. A database without the row (flushed by a test) is read
uncached.
"""

import random
import threading

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.db.models import Q
from django.db.models.signals import m2m_changed, post_delete, post_save

from accounts.models import PermissionsVersion

MAX_ENTRIES = 10_000

_entries: dict[tuple[int, bool], tuple[int, frozenset[str]]] = {}
_lock = threading.Lock()


def _table() -> str:
    return connection.ops.quote_name(PermissionsVersion._meta.db_table)


def current_stamp() -> int | None:
    """The stamp of the permissions version row, or None when the row is missing."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT stamp FROM {_table()} WHERE id = 1")  # noqa: S608 - the table name is the model's
        row = cursor.fetchone()
    return None if row is None else row[0]


def bump_permissions_version(**_) -> None:
    """Give the permissions version a new stamp, so every process reloads permissions (a signal receiver)."""
    stamp = random.getrandbits(62)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {_table()} SET stamp = %s WHERE id = 1", [stamp])  # noqa: S608
        if cursor.rowcount == 0:
            cursor.execute(f"INSERT INTO {_table()} (id, stamp) VALUES (1, %s)", [stamp])  # noqa: S608
    with _lock:
        _entries.clear()


def _bump_on_m2m(action: str, **kwargs) -> None:
    if action in ("post_add", "post_remove", "post_clear"):
        bump_permissions_version()


def connect_signals() -> None:
    User = get_user_model()
    for through in (User.groups.through, User.user_permissions.through, Group.permissions.through):
        m2m_changed.connect(_bump_on_m2m, sender=through, dispatch_uid=f"permissions-version-{through.__name__}")
    for model in (Group, Permission):
        post_save.connect(bump_permissions_version, sender=model, dispatch_uid=f"permissions-version-save-{model.__name__}")
        post_delete.connect(bump_permissions_version, sender=model, dispatch_uid=f"permissions-version-delete-{model.__name__}")


def _load(user_obj) -> frozenset[str]:
    permissions = Permission.objects.all()
    if not user_obj.is_superuser:
        permissions = permissions.filter(Q(user=user_obj) | Q(group__user=user_obj))
    rows = permissions.values_list("content_type__app_label", "codename").order_by().distinct()
    return frozenset(f"{app_label}.{codename}" for app_label, codename in rows)


class RoleBackend(ModelBackend):
    def get_all_permissions(self, user_obj, obj=None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            key = (user_obj.pk, user_obj.is_superuser)
            stamp = current_stamp()
            cached = _entries.get(key)
            if stamp is not None and cached is not None and cached[0] == stamp:
                permissions = cached[1]
            else:
                permissions = _load(user_obj)
                if stamp is not None:
                    with _lock:
                        if len(_entries) >= MAX_ENTRIES:
                            _entries.clear()
                        _entries[key] = (stamp, permissions)
            user_obj._perm_cache = set(permissions)
        return user_obj._perm_cache
