"""Who may use each part of the service beyond a case's own actions (whose roles are the workflow's rules): each
set defined once here, and used by both the API's routes (``require_roles``) and the pages (``page_roles``), so a
page and its route cannot disagree."""

from __future__ import annotations

from engine.vocabulary import CASE_ACTORS, CASE_READERS, Role

__all__ = ["CASE_ACTORS", "CASE_READERS", "WORKING_GROUP", "PLAN_UPDATERS", "THEME_READERS", "THEME_EDITORS",
           "DASHBOARD_READERS", "TRACKER_READERS", "EXECUTIVES", "CALENDAR_KEEPERS", "BOARD_ROLES", "AUDITORS",
           "ADMINS", "CHAIN_CHECKERS", "E_MAIL_LINKABLE", "CASE_LINKERS",
           "SECOND_FACTOR_ROLES"]

# The Rapid Review Working Group is run by the business unit and the panel chair.
WORKING_GROUP = (Role.business_unit, Role.panel_chair)
PLAN_UPDATERS = (*WORKING_GROUP, Role.agency_member)  # an owning agency records progress on its own actions
# Counts across reviews name other cases: not for agency members, who see only their own cases.
THEME_READERS = (Role.business_unit, Role.panel_chair, Role.csc_lead, Role.executive, Role.auditor)
THEME_EDITORS = (Role.business_unit, Role.panel_chair)
DASHBOARD_READERS = (Role.business_unit, Role.executive, Role.auditor)
TRACKER_READERS = (Role.business_unit, Role.panel_chair, Role.executive, Role.auditor)
EXECUTIVES = (Role.executive,)
AUDITORS = (Role.auditor,)
ADMINS = (Role.admin,)
# Who needs a second factor when RAPID_REVIEW_REQUIRE_MFA is on: every role that reads case content, and the admin,
# who resets passwords and changes roles (an admin's password alone would otherwise reach every account).
SECOND_FACTOR_ROLES = (*CASE_READERS, Role.admin)
# Accounts a partner's sign-in may link to by a verified e-mail address on first use: agency staff returning
# information. Every other role (admin, Executive, auditor, the chair, the business unit, the CSC lead) can run or
# read cases beyond one agency's part, so only an admin links those (service/accounts/identities.py).
E_MAIL_LINKABLE = (Role.agency_member,)
CHAIN_CHECKERS = (Role.auditor, Role.admin)  # who may verify the audit chain
CALENDAR_KEEPERS = (Role.business_unit, Role.admin)
BOARD_ROLES = (Role.business_unit, Role.panel_chair, Role.csc_lead, Role.executive, Role.auditor)
# Linking two cases of one incident (a rapid review and a SAR) is the business unit's (service/cases/case_links.py).
CASE_LINKERS = (Role.business_unit,)
