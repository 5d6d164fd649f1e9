from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        # Signals only invalidate the per-process permission cache (CONVENTIONS: signals are for cache invalidation).
        from accounts.backends import connect_signals

        connect_signals()
