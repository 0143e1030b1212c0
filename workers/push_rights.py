"""Whether a merge-request commenter may push to a branch, the way GitLab decides it. Pure.

The bot pushes with its own token, so before ``apply`` commits it checks the COMMENTER's right,
as GitLab's ``Gitlab::UserAccess#can_push_to_branch?`` would for a push of their own:

- an unprotected branch takes Developer access or more (``push_code``);
- a protected branch takes Developer access or more AND an entry of ``push_access_levels`` of a
  rule that matches the branch: a role entry (``access_level`` 30 Developer, 40 Maintainer) the
  commenter's role reaches, or a user entry naming them. ``0`` lets no one push; ``60``
  (administrators) and group or deploy-key entries are not something the bot can check for a
  commenter, so they grant nothing here (ask someone with a role entry, or push by hand).
- rules match by name or wildcard (``*`` matches any characters, ``/`` included:
  ``ProtectedRef``'s ``RefMatcher``), and when several match, any of them granting is enough
  (GitLab applies the most permissive rule: gitlab-org/gitlab#358910).

When GitLab does not show the bot the rules (before 15.x the protected branches API answered
Maintainers only: ``authorize_admin_project``), :func:`may_push_by_flags` decides from the
Branches API's ``protected`` and ``developers_can_push`` flags, erring on refusal.

References: doc/api/protected_branches.md (valid access levels 0/30/40/60, entries with
``user_id``, ``group_id``, ``deploy_key_id``), doc/api/members.md (``members/all`` gives the
effective role, inherited included).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from workers.mr_model import Protection, PushAccess

DEVELOPER = 30
NO_ONE = 0
ADMIN = 60


def matches(rule: str, branch: str) -> bool:
    """Whether a protected branch rule (a name or a ``*`` wildcard) covers ``branch``."""
    if "*" not in rule:
        return rule == branch
    pattern = ".*?".join(re.escape(part) for part in rule.split("*"))
    return re.fullmatch(pattern, branch) is not None


def may_push(role: int, user_id: int, branch: str, rules: Iterable[Protection]) -> bool:
    """Whether a user with effective ``role`` could push to ``branch`` themselves."""
    if role < DEVELOPER:
        return False
    applying = [rule for rule in rules if matches(rule.name, branch)]
    if not applying:
        return True
    return any(_grants(entry, role, user_id) for rule in applying for entry in rule.push_access)


def _grants(entry: PushAccess, role: int, user_id: int) -> bool:
    if entry.user_id is not None:
        return entry.user_id == user_id
    if entry.group_id is not None or entry.deploy_key_id is not None:
        return False
    return entry.access_level not in (NO_ONE, ADMIN) and role >= entry.access_level


def may_push_by_flags(role: int, protected: bool, developers_can_push: bool) -> bool:
    """The same question without the rules: an unprotected branch, or one where Developers
    may push. A protected branch only Maintainers may push to is refused (the bot cannot tell
    "Maintainers" from "No one" without the rules)."""
    return role >= DEVELOPER and (not protected or developers_can_push)
