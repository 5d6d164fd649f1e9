"""Filters shared by every app's filter sets."""

import datetime as dt

import django_filters
from django.core.exceptions import ValidationError
from django.forms import NullBooleanSelect
from django_filters.fields import IsoDateTimeField


class UTCIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 time, turned to UTC: PostgreSQL refuses offsets beyond ±15:59 that Python accepts (a 500)."""

    def clean(self, value):
        value = super().clean(value)
        if value is None or value.tzinfo is None:
            return value
        try:
            return value.astimezone(dt.timezone.utc)
        except OverflowError:
            raise ValidationError("Give a date and time between the years 1 and 9999.", code="invalid") from None


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCIsoDateTimeField


class AnyYesNoSelect(NullBooleanSelect):
    """A yes/no filter's choices as a filter means them: "Any" (no filter), "Yes", "No" (not Django's "Unknown")."""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.choices = (("unknown", "Any"), ("true", "Yes"), ("false", "No"))


class YesNoFilter(django_filters.BooleanFilter):
    """A BooleanFilter shown as Any / Yes / No; the API still takes true/false."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", AnyYesNoSelect)
        super().__init__(*args, **kwargs)
