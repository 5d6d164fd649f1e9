"""Text that mentions "issue #N" (an edit's reason, a label's origin) links to that issue's page.

Lives in the project package so lower apps' templates can use it without knowing the feedback app; with no issue
pages installed the text stays plain, as the navigation drops sections whose pages are not built.
"""

import re

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

ISSUE = re.compile(r"issue #(\d+)", re.I)


@register.filter
def link_issues(text) -> SafeString:
    """Escape the text and turn each "issue #N" into a link to issue N."""
    escaped = str(conditional_escape(text or ""))

    def link(match: re.Match) -> str:
        try:
            url = reverse("feedback:issue-detail", args=[int(match[1])])
        except NoReverseMatch:
            return match[0]
        return format_html('<a href="{}">{}</a>', url, match[0])

    return mark_safe(ISSUE.sub(link, escaped))  # the text was escaped above; only our own links are added
