"""Who may change which entity type and golden value: object rules checked by the mastering services,
pages and API."""

import rules

from accounts.rules import has_capability, oversees_curators


@rules.predicate
def set_the_override(user, override) -> bool:
    return override is not None and override.user_id == user.pk


# Attributes, mappings and the type's settings are configuration (admins).
rules.add_perm("mastering.change_entity_type", has_capability("configure"))
# Survivorship rules and the match threshold decide published values: stewards (and admins).
rules.add_perm("mastering.change_golden_rules", has_capability("edit_rules"))
# An override is its curator's decision, as a label is: they may withdraw it, and so may a steward.
rules.add_perm("mastering.remove_override", has_capability("curate") & (set_the_override | oversees_curators))
