"""Who may do what: THE table the access matrix checks the app against.

Written from the README's "Roles" section, not read from accounts/roles.py, so that a change to the app's own
role matrix shows up here as mismatches instead of silently moving the goalposts.

Two halves of one table:
  ROLES   role -> the abilities it has.
  ROUTES  route -> method -> the ability it needs.

Every route the app serves must appear in ROUTES with every method it offers (the admin site is the one
prefix entry: Django admin guards all of it the same way). A route or method missing here is counted as
a miss by the access part and fails tests/steward/test_access_matrix.py, so a new route cannot be forgotten.

What the matrix expects, per check:
  role has the ability  -> not refused: no 401/403, no redirect to a login page, no 404 (the path names a real
                           seeded object), no 405 (the route offers the method), no 5xx. 400 and 409 are fine:
                           the probe sends empty bodies.
  role lacks it         -> API: 403 (anonymous: 401 or 403). Pages: 403 (anonymous: redirect to /login/).
                           Admin site: a redirect into /admin/ (its login page) for everyone who is not admin.
  OPTIONS on API routes -> 200 for a role that may use some method of the route; a role that may use none gets
                           200 or 403 (anonymous: 401 or 403). Never a 5xx.
"""

from __future__ import annotations

PUBLIC = "public"  # anyone, signed in or not
READ = "read"  # any signed-in user: "business user browses everything"
CONFIGURE = "configure"
INGEST = "ingest"
RUN_JOBS = "run_jobs"
LABEL = "label"
CURATE = "curate"
ADJUDICATE = "adjudicate"
EDIT_RULES = "edit_rules"
TRIAGE = "triage_issues"
FILE_ISSUES = "file_issues"
ADMIN_SITE = "admin_site"

ANONYMOUS = "anonymous"

ROLES: dict[str, set[str]] = {
    # README: everything, including Django admin.
    "admin": {PUBLIC, READ, CONFIGURE, INGEST, RUN_JOBS, LABEL, CURATE, ADJUDICATE, EDIT_RULES, TRIAGE, FILE_ISSUES, ADMIN_SITE},
    # README: ingest tables, run jobs, label, curate, settle disagreements, triage data issues.
    "steward": {PUBLIC, READ, INGEST, RUN_JOBS, LABEL, CURATE, ADJUDICATE, EDIT_RULES, TRIAGE, FILE_ISSUES},
    # README: label pairs, curate clusters and values, run jobs.
    "curator": {PUBLIC, READ, RUN_JOBS, LABEL, CURATE, FILE_ISSUES},
    # README: browse everything, file and follow data issues. Writes nothing else.
    "business user": {PUBLIC, READ, FILE_ISSUES},
    # README: push tables and records, run jobs.
    "data engineer": {PUBLIC, READ, INGEST, RUN_JOBS, FILE_ISSUES},
    # ARCHITECTURE: anonymous visitors get the login page and /healthz (and the favicon), nothing else.
    ANONYMOUS: {PUBLIC},
}

# Routes whose path names something a probe cannot seed for everyone (an upload token lives in one session):
# there a 404 for an allowed role is not a miss.
NOT_FOUND_IS_FINE = {"/sources/{slug}/upload/{token}/", "/admin/{url}",
                     "/api/notifications/{id}/"}  # a notification is its recipient's alone  # the admin's catch-all is a 404 by design

# Signing out succeeds with a redirect to the login page.
SIGN_OUT = {"/logout/", "/admin/logout/"}

# Inside the admin site, Django admin itself answers 403 (add, change, delete of models the project keeps
# read-only there: jobs, batches, records, labels...) or 405 (views that take GET only) to the admin role;
# CONVENTIONS asks for those read-only admins, so for the admin role these are not misses.
ADMIN_SITE_REFUSALS = (403, 405)

ADMIN_PREFIX = "/admin/"

ROUTES: dict[str, dict[str, str]] = {
    # --- API (the OpenAPI schema, plus the API routes the schema leaves out: root, schema, docs).
    "/api/": {"GET": READ},
    "/api/auth/token/": {"POST": PUBLIC},
    "/api/schema/": {"GET": READ},
    "/api/docs/": {"GET": READ},
    "/api/sources/": {"GET": READ, "POST": CONFIGURE},
    "/api/sources/{slug}/": {"GET": READ, "PUT": CONFIGURE, "PATCH": CONFIGURE},
    "/api/sources/{slug}/batches/": {"GET": READ, "POST": INGEST},
    "/api/sources/{slug}/records/": {"GET": READ},
    "/api/sources/{slug}/records/{key}/": {"GET": READ, "PUT": INGEST},
    "/api/batches/": {"GET": READ},
    "/api/batches/{id}/": {"GET": READ},
    "/api/batches/{id}/problems/": {"GET": READ},
    "/api/entity-types/": {"GET": READ, "POST": CONFIGURE},
    "/api/entity-types/{slug}/": {"GET": READ},
    # Reading a rule preview changes nothing (issue 12): anyone who browses may; applying a rule needs edit_rules.
    "/api/entity-types/{slug}/attributes/{attribute}/rule/": {"GET": READ, "POST": EDIT_RULES},
    "/api/entity-types/{slug}/changes/": {"GET": READ},
    "/api/entity-types/{slug}/diagnostics/": {"GET": READ, "POST": EDIT_RULES},
    # The disputes list is the adjudicators' work queue, not data to browse.
    "/api/entity-types/{slug}/disputes/": {"GET": ADJUDICATE},
    "/api/entity-types/{slug}/entities/": {"GET": READ},
    "/api/entity-types/{slug}/entities/{id}/": {"GET": READ},
    "/api/entity-types/{slug}/entities/{id}/{action}/": {"POST": CURATE},
    "/api/entity-types/{slug}/entities/{id}/history/": {"GET": READ},
    # Matching reads: anyone who may browse entities may ask which one a record would join.
    "/api/entity-types/{slug}/match/": {"POST": READ},
    # Confirming or rejecting a proposed match becomes a label: labellers only.
    "/api/entity-types/{slug}/match/feedback/": {"POST": LABEL},
    "/api/lineage/entity-types/{slug}/entities/{id}/": {"GET": READ},
    "/api/lineage/entity-types/{slug}/entities/{id}/values/{attribute}/": {"GET": READ},
    "/api/lineage/entity-types/{slug}/entities/{id}/why/": {"GET": READ},
    "/api/lineage/sources/{slug}/records/{key}/": {"GET": READ},
    "/api/lineage/sources/{slug}/batches/{batch_id}/": {"GET": READ},
    "/api/lineage/jobs/{job_id}/": {"GET": READ},
    "/api/entity-types/{slug}/entities/{id}/overrides/": {"POST": CURATE},
    "/api/entity-types/{slug}/jobs/": {"GET": READ, "POST": RUN_JOBS},
    "/api/entity-types/{slug}/labels/": {"GET": READ, "POST": LABEL},
    "/api/entity-types/{slug}/mappings/{source}/": {"PUT": CONFIGURE},
    "/api/entity-types/{slug}/mappings/propose/": {"GET": READ},
    "/api/entity-types/{slug}/memberships/": {"GET": READ},
    "/api/entity-types/{slug}/models/": {"GET": READ},
    "/api/entity-types/{slug}/queue/next/": {"POST": LABEL},
    "/api/entity-types/{slug}/queue/undo/": {"POST": LABEL},
    # Issues: anyone signed in files, comments, watches and moves an issue as far as its own rules allow (a reporter
    # closes their own; stewards and routed curators the rest, checked per issue); assigning is triage.
    "/api/issues/": {"GET": READ, "POST": FILE_ISSUES},
    "/api/issues/{id}/": {"GET": READ, "PATCH": FILE_ISSUES},
    "/api/issues/{id}/assign/": {"POST": TRIAGE},
    "/api/issues/metrics/": {"GET": TRIAGE},
    "/api/issues/{id}/comments/": {"GET": READ, "POST": FILE_ISSUES},
    "/api/issues/{id}/resolve/": {"POST": CURATE},
    "/api/issues/{id}/timeline/": {"GET": READ},
    "/api/issues/{id}/transition/": {"POST": FILE_ISSUES},
    "/api/issues/{id}/watch/": {"POST": FILE_ISSUES},
    "/api/notifications/": {"GET": READ},
    "/api/notifications/{id}/": {"GET": READ},
    "/api/notifications/read/": {"POST": READ},
    "/api/jobs/": {"GET": READ},
    "/api/jobs/{id}/": {"GET": READ},
    "/api/jobs/{id}/cancel/": {"POST": RUN_JOBS},
    "/api/labels/{id}/": {"GET": READ},
    # The seeded label is a steward's: revoking another curator's label needs adjudicate (one's own: label).
    "/api/labels/{id}/revoke/": {"POST": ADJUDICATE},
    "/api/lineage/activities/": {"GET": READ},
    "/api/lineage/activities/{id}/": {"GET": READ},
    # OpenLineage events are for the systems data engineers run (lineage/rules.py): every role that runs jobs.
    "/api/lineage/openlineage/": {"GET": RUN_JOBS},
    # The seeded override is a steward's: removing another curator's override needs adjudicate (one's own: curate).
    "/api/overrides/{override_id}/": {"DELETE": ADJUDICATE},
    "/api/pairs/{id}/adjudicate/": {"POST": ADJUDICATE},
    "/api/pairs/{id}/answer/": {"POST": LABEL},
    "/api/pairs/{id}/skip/": {"POST": LABEL},
    # --- Pages.
    "/": {"GET": READ},
    "/healthz": {"GET": PUBLIC},
    "/favicon.ico": {"GET": PUBLIC},  # a redirect to the static icon, for browsers that ask before any page
    "/login/": {"GET": PUBLIC, "POST": PUBLIC},
    "/logout/": {"POST": READ},
    "/sources/": {"GET": READ},
    "/sources/{slug}/": {"GET": READ},
    "/sources/{slug}/upload/": {"GET": INGEST, "POST": INGEST},
    "/sources/{slug}/upload/{token}/": {"GET": INGEST, "POST": INGEST},
    "/sources/{slug}/batches/": {"GET": READ},
    "/sources/{slug}/batches/{batch_id}/": {"GET": READ},
    "/sources/{slug}/batches/{batch_id}/resend/": {"POST": INGEST},
    "/sources/{slug}/records/{key}/": {"GET": READ},
    "/sources/{slug}/record-lineage/{key}/": {"GET": READ},
    "/sources/{slug}/batches/{batch_id}/lineage/": {"GET": READ},
    "/entities/": {"GET": READ},
    "/entities/{slug}/": {"GET": READ},
    "/entities/{slug}/match/": {"GET": READ},
    "/entities/{slug}/model/": {"GET": READ},
    "/entities/{slug}/jobs/": {"POST": RUN_JOBS},
    "/entities/{slug}/{entity_id}/": {"GET": READ},
    "/entities/{slug}/{entity_id}/edit/": {"POST": CURATE},
    "/entities/{slug}/{entity_id}/history/": {"GET": READ},
    "/entities/{slug}/{entity_id}/lineage/": {"GET": READ},
    "/entities/{slug}/{entity_id}/why/": {"GET": READ},
    "/entities/{slug}/{entity_id}/values/{attribute}/": {"GET": READ},
    "/entities/{slug}/search/": {"GET": READ},
    "/entities/{slug}/changes/": {"GET": READ},
    "/jobs/": {"GET": READ},
    "/jobs/{job_id}/": {"GET": READ},
    "/jobs/{job_id}/cancel/": {"POST": RUN_JOBS},
    "/jobs/{job_id}/lineage/": {"GET": READ},
    "/curation/": {"GET": READ},
    "/curation/{slug}/queue/": {"GET": LABEL, "POST": LABEL},
    "/curation/{slug}/labels/": {"GET": READ},
    # Curators may revoke their own labels; another's (the seeded one is a steward's) is refused with a message.
    "/curation/{slug}/labels/{label_id}/revoke/": {"POST": LABEL},
    "/curation/{slug}/disputes/": {"GET": ADJUDICATE, "POST": ADJUDICATE},
    # Moved to /entities/ (issue 13): the edit form's old address still takes posts, the pages redirect.
    "/curation/{slug}/entities/{entity_id}/edit/": {"POST": CURATE},
    "/curation/{slug}/entities/{entity_id}/history/": {"GET": READ},
    "/curation/{slug}/entity-search/": {"GET": READ},
    "/curation/{slug}/changes/": {"GET": READ},
    "/curation/{slug}/review/{name}/": {"GET": READ},
    "/curation/{slug}/rules/": {"GET": READ, "POST": EDIT_RULES},
    "/curation/{slug}/diagnostics/": {"GET": READ, "POST": EDIT_RULES},
    "/issues/": {"GET": READ},
    "/issues/new/": {"GET": FILE_ISSUES, "POST": FILE_ISSUES},
    "/issues/board/": {"GET": READ},
    "/issues/metrics/": {"GET": TRIAGE},
    "/issues/{issue_id}/edit/": {"POST": FILE_ISSUES},
    "/issues/notifications/": {"GET": READ, "POST": READ},
    "/issues/{issue_id}/": {"GET": READ},
    "/issues/{issue_id}/comment/": {"POST": FILE_ISSUES},
    "/issues/{issue_id}/transition/": {"POST": FILE_ISSUES},
    "/issues/{issue_id}/assign/": {"POST": TRIAGE},
    "/issues/{issue_id}/resolve/": {"POST": CURATE},
    "/issues/{issue_id}/watch/": {"POST": FILE_ISSUES},
    "/lineage/": {"GET": READ},
    "/lineage/activities/{activity_id}/": {"GET": READ},
    # --- Django admin: the admin role's workspace; its login page is open to all.
    "/admin/login/": {"GET": PUBLIC, "POST": PUBLIC},
    ADMIN_PREFIX: {"GET": ADMIN_SITE, "POST": ADMIN_SITE},  # and every route under it
}


def _shape(template: str) -> str:
    import re

    return re.sub(r"\{[^}]*\}", "{}", template)


_BY_SHAPE = {_shape(template): needs for template, needs in ROUTES.items()}


def needs_for(template: str) -> dict[str, str] | None:
    """Method -> ability for a route, or None when the table has no entry for it."""
    needs = _BY_SHAPE.get(_shape(template))
    if needs is None and template.startswith(ADMIN_PREFIX):
        return ROUTES[ADMIN_PREFIX]
    return needs


def may(role: str, ability: str) -> bool:
    return ability in ROLES[role]
