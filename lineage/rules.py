"""Who may read what lineage records."""

import rules

from accounts.rules import has_capability

# OpenLineage run events name every source, entity type and job: for the people who run and feed the system
# (data engineers, curators, stewards, admins), not for business users, who browse lineage on its pages.
rules.add_perm("lineage.view_run_events", has_capability("run_jobs") | has_capability("ingest") | has_capability("configure"))
