from django.http import HttpRequest
from django.urls import reverse


NAVIGATION = [
    ("Sources", "mastering:source-list", "sources"),
    ("Entities", "mastering:entity-type-list", "entities"),
    ("Curation", "curation:home", "curation"),
    ("Issues", "feedback:issue-list", "issues"),
    ("Lineage", "lineage:activity-list", "lineage"),
    ("Jobs", "mastering:job-list", "jobs"),
]


def navigation(request: HttpRequest) -> dict:
    """The main menu, with the current section marked."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {"nav_items": []}
    path = request.path_info
    items = []
    for label, url_name, section in NAVIGATION:
        try:
            url = reverse(url_name)
        except Exception:  # a section whose pages are not built yet stays out of the menu
            continue
        items.append({"label": label, "url": url, "active": path.startswith(url) and url != "/"})
    return {"nav_items": items}
