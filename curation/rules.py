"""Who may do what to which label: object rules checked by the curation services, pages and API."""

import rules

from accounts.rules import has_capability, oversees_curators


@rules.predicate
def gave_the_label(user, label) -> bool:
    return label is not None and label.curator_id == user.pk


# A label is its curator's answer: they may take it back, and so may a steward settling the pair.
rules.add_perm("curation.revoke_label", has_capability("label") & (gave_the_label | oversees_curators))
# Undo is the queue's "previous" key: only for one's own answer, and only while one still labels.
rules.add_perm("curation.undo_answer", has_capability("label") & gave_the_label)
