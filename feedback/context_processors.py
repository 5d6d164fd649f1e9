from django.http import HttpRequest

from feedback.selectors import unread_count


def notifications(request: HttpRequest) -> dict:
    """The bell's count of unread issue notifications (None when nobody is signed in: no bell)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"issue_unread": None}
    return {"issue_unread": unread_count(user=user)}
