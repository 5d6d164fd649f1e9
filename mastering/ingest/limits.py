from django.conf import settings

from steward.errors import ServiceError

# Longest value a field accepts unless it declares its own limit (SourceField.max_length), and the most it may declare.
DEFAULT_VALUE_LENGTH = 10_000
LONGEST_VALUE_LENGTH = 1_000_000


class TooLarge(ServiceError):
    """A table over the configured upload limit; refused before it is read."""

    status_code = 413

    def __init__(self, max_bytes: int):
        megabytes = max_bytes / (1024 * 1024)
        super().__init__(
            f"The file is larger than the {megabytes:g} MB limit (STEWARD_MAX_UPLOAD_MB). "
            "Split it into smaller batches or ask an admin to raise the limit."
        )


def max_columns() -> int:
    """The most columns a table may have (STEWARD_MAX_COLUMNS)."""
    return settings.STEWARD_MAX_COLUMNS
