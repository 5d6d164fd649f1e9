"""Apps above mastering that learn from cluster edits register here (curation turns them into labels).

Mastering must not import those apps; the edit services call every registered listener inside their transaction.
"""

from collections.abc import Callable

from mastering.models import ClusterEdit

# The edit, and each entity it touched (by id) with its member record ids just before the edit.
EditListener = Callable[[ClusterEdit, dict[str, set[int]]], None]

_LISTENERS: dict[str, EditListener] = {}


def register_edit_listener(name: str, listener: EditListener) -> None:
    """Have `listener` called after every split, move and merge (registering a name again replaces it)."""
    _LISTENERS[name] = listener


def notify_edit_listeners(edit: ClusterEdit, members_before: dict[str, set[int]]) -> None:
    """Tell every registered listener about an edit just applied."""
    for listener in _LISTENERS.values():
        listener(edit, members_before)
