from django.apps import AppConfig


class MasteringConfig(AppConfig):
    name = "mastering"
    verbose_name = "Mastering"
