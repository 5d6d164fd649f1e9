import os

from django.core.wsgi import get_wsgi_application

from steward import long_lived

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steward.settings")
application = get_wsgi_application()
long_lived.enable()  # after start-up, and again after each matcher loads (mastering.matchers)
