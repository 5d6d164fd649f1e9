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
