from django.db import models

from accounts.roles import CAPABILITIES


class Capability(models.Model):
    """Anchor for the role permissions, which belong to no single table."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = list(CAPABILITIES.items())

    def __str__(self) -> str:
        return "capability"


class PermissionsVersion(models.Model):
    """One row whose stamp changes whenever a role, a role's permissions or a user's roles change.

    Each process caches a user's permissions under the stamp it read (accounts/backends.py), so a request reads
    this row by its key instead of joining permissions, groups and users; a change made in any process shows at
    the next request of every process.
    """

    stamp = models.BigIntegerField(default=0, help_text="Random on each change, so a rolled-back change never comes back")

    def __str__(self) -> str:
        return f"permissions version {self.stamp}"
