"""The REST endpoints of the fake GitLab (`/api/v4/...`), as a route table of small handlers.

Each handler gets a `Request` (acting user, parsed query and body, URL groups) and returns an
`Answer`; GitLab's error answers are raised as `ApiError`. Handlers run under the state lock.
"""

from __future__ import annotations

import base64
import re
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from tests.fake_gitlab import ci, payloads
from tests.fake_gitlab.handling import Answer, Handler, Request, ok, paginate
from tests.fake_gitlab.state import ApiError, Project

# -- users and projects ------------------------------------------------------------------------


def get_current_user(request: Request) -> Answer:
    return ok(payloads.current_user(request.base_url, request.user))


def get_project(request: Request) -> Answer:
    return ok(payloads.project(request.base_url, request.state, request.project()))


def get_member(request: Request) -> Answer:
    item = request.project()
    who = request.state.user(int(request.groups["user_id"]))
    level = item.members.get(who.id)
    if level is None:
        raise ApiError(404, "404 Not found")
    return ok(payloads.member(request.base_url, who, level))


def list_members(request: Request) -> Answer:
    item = request.project()
    members = [
        payloads.member(request.base_url, request.state.user(uid), level)
        for uid, level in sorted(item.members.items())
    ]
    return paginate(request, members)


# -- branches ----------------------------------------------------------------------------------


def list_branches(request: Request) -> Answer:
    item = request.project()
    names = sorted(item.branches)
    return paginate(
        request,
        [payloads.branch(request.base_url, request.state, item, n, request.user) for n in names],
    )


def get_branch(request: Request) -> Answer:
    item = request.project()
    name = request.groups["branch"]
    if name not in item.branches:
        raise ApiError(404, "404 Branch Not Found")
    return ok(payloads.branch(request.base_url, request.state, item, name, request.user))


def _protection_rules_project(request: Request) -> Project:
    item = request.project()
    if request.state.access_level(item, request.user) < request.state.protection_rules_min_level:
        raise ApiError(403, "403 Forbidden")
    return item


def list_protected_branches(request: Request) -> Answer:
    item = _protection_rules_project(request)
    entries = [payloads.protected_branch(p) for _, p in sorted(item.protected.items())]
    return paginate(request, entries)


def get_protected_branch(request: Request) -> Answer:
    item = _protection_rules_project(request)
    entry = item.protected.get(request.groups["branch"])
    if entry is None:
        raise ApiError(404, "404 Not found")
    return ok(payloads.protected_branch(entry))


# -- repository --------------------------------------------------------------------------------


def _ref(request: Request, item: Project) -> str:
    return str(request.query.get("ref") or item.default_branch)


def list_tree(request: Request) -> Answer:
    item = request.project()
    files = item.tree(_ref(request, item))
    path = str(request.query.get("path") or "")
    entries = payloads.tree_entries(files, path, request.flag("recursive"))
    if path and not entries:
        raise ApiError(404, "404 Tree Not Found")
    return paginate(request, entries)


def _file(request: Request) -> tuple[Project, str, str, str | bytes, str]:
    item = request.project()
    ref = request.query.get("ref")
    if not ref:
        raise ApiError(400, {"error": "ref is missing"})
    path = request.groups["file_path"]
    sha = item.branches.get(str(ref), str(ref))
    files = item.tree(str(ref))
    if path not in files:
        raise ApiError(404, "404 File Not Found")
    return item, str(ref), path, files[path], sha


def get_file(request: Request) -> Answer:
    _, ref, path, content, sha = _file(request)
    return ok(payloads.repository_file(path, ref, content, sha))


def get_raw_file(request: Request) -> Answer:
    _, _, _, content, _ = _file(request)
    data = content.encode() if isinstance(content, str) else content
    return Answer(200, data, {"Content-Type": "text/plain; charset=utf-8"})


def get_blob(request: Request) -> Answer:
    request.project()
    content = request.state.blob(request.groups["sha"])
    data = content.encode() if isinstance(content, str) else content
    return ok(
        {
            "size": len(data),
            "encoding": "base64",
            "content": base64.b64encode(data).decode(),
            "sha": request.groups["sha"],
        }
    )


def get_raw_blob(request: Request) -> Answer:
    request.project()
    content = request.state.blob(request.groups["sha"])
    data = content.encode() if isinstance(content, str) else content
    return Answer(200, data)


def get_commit(request: Request) -> Answer:
    item = request.project()
    sha = item.branches.get(request.groups["sha"], request.groups["sha"])
    entry = item.commits.get(sha)
    if entry is None:
        raise ApiError(404, "404 Commit Not Found")
    return ok(payloads.commit(request.base_url, item, entry))


def list_commits(request: Request) -> Answer:
    """Commits reachable from `ref_name` (default branch), newest first, `since` a time."""
    item = request.project()
    ref = str(request.query.get("ref_name") or item.default_branch)
    head = item.branches.get(ref, ref)
    if head not in item.commits:
        raise ApiError(404, "404 Commit Not Found")
    found = payloads.commit_range(request.base_url, item, head, "")
    since = request.query.get("since")
    if since:
        moment = datetime.fromisoformat(str(since))
        found = [c for c in found if datetime.fromisoformat(c["created_at"]) >= moment]
    return paginate(request, found)


def create_commit(request: Request) -> Answer:
    item = request.project()
    actions = request.param("actions") or []
    if not isinstance(actions, list):
        raise ApiError(400, {"error": "actions is invalid"})
    entry = request.state.create_commit(
        item,
        request.user,
        str(request.param("branch") or ""),
        str(request.param("commit_message") or ""),
        actions,
        request.param("start_branch"),
        request.param("start_sha"),
        request.flag("force"),
    )
    return ok(payloads.created_commit(request.base_url, request.state, item, entry), 201)


# -- merge requests ----------------------------------------------------------------------------


def list_merge_requests(request: Request) -> Answer:
    item = request.project()
    wanted = request.query.get("state", "all")
    found = [
        payloads.merge_request(request.base_url, request.state, mr)
        for _, mr in sorted(item.merge_requests.items(), reverse=True)
        if wanted == "all" or mr.state == wanted
    ]
    return paginate(request, found)


def get_merge_request(request: Request) -> Answer:
    mr = request.merge_request()
    return ok(payloads.merge_request(request.base_url, request.state, mr))


def list_diffs(request: Request) -> Answer:
    mr = request.merge_request()
    return paginate(request, [payloads.file_diff(d) for d in request.state.mr_diffs(mr)])


def list_mr_commits(request: Request) -> Answer:
    """The MR's commits, newest first (from head back to the merge base)."""
    mr = request.merge_request()
    commits = payloads.commit_range(
        request.base_url, request.project(), mr.head_sha, mr.newest.base_sha
    )
    return paginate(request, commits)


def list_versions(request: Request) -> Answer:
    mr = request.merge_request()
    entries = [
        payloads.version(mr, v, len(request.state.mr_diffs(mr, v))) for v in reversed(mr.versions)
    ]
    return paginate(request, entries)


def get_version(request: Request) -> Answer:
    mr = request.merge_request()
    entry = next((v for v in mr.versions if str(v.id) == request.groups["version_id"]), None)
    if entry is None:
        raise ApiError(404, "404 Not found")
    return ok(payloads.version_detail(request.base_url, request.state, mr, entry))


# -- notes -------------------------------------------------------------------------------------


def list_notes(request: Request) -> Answer:
    mr = request.merge_request()
    notes = [n for d in mr.discussions for n in d.notes]
    order_by = request.query.get("order_by", "created_at")
    key = (lambda n: n.updated_at) if order_by == "updated_at" else (lambda n: n.id)
    ascending = request.query.get("sort", "desc") == "asc"
    notes.sort(key=key, reverse=not ascending)
    return paginate(request, [payloads.note(request.base_url, request.state, mr, n) for n in notes])


def get_note(request: Request) -> Answer:
    mr = request.merge_request()
    _, entry = request.state.note(mr, request.groups["note_id"])
    return ok(payloads.note(request.base_url, request.state, mr, entry))


def create_note(request: Request) -> Answer:
    mr = request.merge_request()
    request.state.count_note(request.user)
    entry = request.state.create_note(
        mr, request.user, str(request.param("body") or ""), internal=request.flag("internal")
    )
    return ok(payloads.note(request.base_url, request.state, mr, entry), 201)


def update_note(request: Request) -> Answer:
    mr = request.merge_request()
    _, entry = request.state.note(mr, request.groups["note_id"])
    request.state.update_note(entry, request.user, str(request.param("body") or ""))
    return ok(payloads.note(request.base_url, request.state, mr, entry))


def delete_note(request: Request) -> Answer:
    mr = request.merge_request()
    request.state.delete_note(mr, request.groups["note_id"], request.user)
    return Answer(204, None)


# -- discussions -------------------------------------------------------------------------------


def _position(request: Request) -> dict[str, Any] | None:
    position = request.param("position")
    if position is None:
        return None
    if not isinstance(position, dict):
        raise ApiError(400, {"error": "position is invalid"})
    return position


def list_discussions(request: Request) -> Answer:
    mr = request.merge_request()
    entries = [payloads.discussion(request.base_url, request.state, mr, d) for d in mr.discussions]
    return paginate(request, entries)


def get_discussion(request: Request) -> Answer:
    mr = request.merge_request()
    entry = request.state.discussion(mr, request.groups["discussion_id"])
    return ok(payloads.discussion(request.base_url, request.state, mr, entry))


def create_discussion(request: Request) -> Answer:
    mr = request.merge_request()
    request.state.count_note(request.user)
    entry = request.state.create_discussion(
        mr, request.user, str(request.param("body") or ""), _position(request)
    )
    return ok(payloads.discussion(request.base_url, request.state, mr, entry), 201)


def update_discussion(request: Request) -> Answer:
    mr = request.merge_request()
    entry = request.state.discussion(mr, request.groups["discussion_id"])
    if request.param("resolved") is None:
        raise ApiError(400, {"error": "resolved is missing"})
    request.state.resolve(entry, request.user, request.flag("resolved"))
    return ok(payloads.discussion(request.base_url, request.state, mr, entry))


def reply_discussion(request: Request) -> Answer:
    mr = request.merge_request()
    entry = request.state.discussion(mr, request.groups["discussion_id"])
    request.state.count_note(request.user)
    created = request.state.reply(mr, entry, request.user, str(request.param("body") or ""))
    return ok(payloads.note(request.base_url, request.state, mr, created), 201)


def update_discussion_note(request: Request) -> Answer:
    mr = request.merge_request()
    discussion = request.state.discussion(mr, request.groups["discussion_id"])
    entry = next((n for n in discussion.notes if str(n.id) == request.groups["note_id"]), None)
    if entry is None:
        raise ApiError(404, "404 Not found")
    if request.param("resolved") is not None:
        request.state.resolve(discussion, request.user, request.flag("resolved"))
    if request.param("body") is not None:
        request.state.update_note(entry, request.user, str(request.param("body")))
    return ok(payloads.note(request.base_url, request.state, mr, entry))


# -- draft notes -------------------------------------------------------------------------------


def list_drafts(request: Request) -> Answer:
    mr = request.merge_request()
    own = [d for d in mr.draft_notes if d.author_id == request.user.id]
    return paginate(request, [payloads.draft_note(mr, d) for d in own])


def get_draft(request: Request) -> Answer:
    mr = request.merge_request()
    entry = request.state.draft(mr, request.groups["draft_id"], request.user)
    return ok(payloads.draft_note(mr, entry))


def create_draft(request: Request) -> Answer:
    mr = request.merge_request()
    entry = request.state.create_draft(
        mr,
        request.user,
        str(request.param("note") or ""),
        _position(request),
        request.param("in_reply_to_discussion_id"),
        request.flag("resolve_discussion"),
    )
    return ok(payloads.draft_note(mr, entry), 201)


def update_draft(request: Request) -> Answer:
    mr = request.merge_request()
    entry = request.state.draft(mr, request.groups["draft_id"], request.user)
    body = request.param("note")
    if not body:
        raise ApiError(400, "400 Bad request - Missing params to modify")
    # `draft_note.update!(note:, position:)`: stored as given, validated only at publish
    entry.note = str(body)
    entry.position = _position(request)
    return ok(payloads.draft_note(mr, entry))


def delete_draft(request: Request) -> Answer:
    mr = request.merge_request()
    entry = request.state.draft(mr, request.groups["draft_id"], request.user)
    mr.draft_notes.remove(entry)
    return Answer(204, None)


def publish_draft(request: Request) -> Answer:
    mr = request.merge_request()
    entry = request.state.draft(mr, request.groups["draft_id"], request.user)
    request.state.publish(mr, entry)
    return Answer(204, None)


def bulk_publish(request: Request) -> Answer:
    mr = request.merge_request()
    request.state.bulk_publish(mr, request.user)
    return Answer(204, None)


P = r"/projects/(?P<project>[^/]+)"
MR = P + r"/merge_requests/(?P<iid>\d+)"

ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    (method, re.compile(f"^{pattern}$"), handler)
    for method, pattern, handler in [
        ("GET", r"/user", get_current_user),
        ("GET", P, get_project),
        ("GET", P + r"/members/all", list_members),
        ("GET", P + r"/members/all/(?P<user_id>\d+)", get_member),
        ("GET", P + r"/repository/branches", list_branches),
        ("GET", P + r"/repository/branches/(?P<branch>[^/]+)", get_branch),
        ("GET", P + r"/protected_branches", list_protected_branches),
        ("GET", P + r"/protected_branches/(?P<branch>[^/]+)", get_protected_branch),
        ("GET", P + r"/repository/tree", list_tree),
        ("GET", P + r"/repository/files/(?P<file_path>[^/]+)/raw", get_raw_file),
        ("GET", P + r"/repository/files/(?P<file_path>[^/]+)", get_file),
        ("GET", P + r"/repository/blobs/(?P<sha>[0-9a-f]+)", get_blob),
        ("GET", P + r"/repository/blobs/(?P<sha>[0-9a-f]+)/raw", get_raw_blob),
        ("GET", P + r"/repository/commits/(?P<sha>[^/]+)", get_commit),
        ("GET", P + r"/repository/commits", list_commits),
        ("POST", P + r"/repository/commits", create_commit),
        ("GET", P + r"/merge_requests", list_merge_requests),
        ("GET", MR, get_merge_request),
        ("GET", MR + r"/diffs", list_diffs),
        ("GET", MR + r"/commits", list_mr_commits),
        ("GET", MR + r"/versions", list_versions),
        ("GET", MR + r"/versions/(?P<version_id>\d+)", get_version),
        ("GET", MR + r"/notes", list_notes),
        ("POST", MR + r"/notes", create_note),
        ("GET", MR + r"/notes/(?P<note_id>\d+)", get_note),
        ("PUT", MR + r"/notes/(?P<note_id>\d+)", update_note),
        ("DELETE", MR + r"/notes/(?P<note_id>\d+)", delete_note),
        ("GET", MR + r"/discussions", list_discussions),
        ("POST", MR + r"/discussions", create_discussion),
        ("GET", MR + r"/discussions/(?P<discussion_id>[0-9a-f]+)", get_discussion),
        ("PUT", MR + r"/discussions/(?P<discussion_id>[0-9a-f]+)", update_discussion),
        ("POST", MR + r"/discussions/(?P<discussion_id>[0-9a-f]+)/notes", reply_discussion),
        (
            "PUT",
            MR + r"/discussions/(?P<discussion_id>[0-9a-f]+)/notes/(?P<note_id>\d+)",
            update_discussion_note,
        ),
        ("GET", MR + r"/draft_notes", list_drafts),
        ("POST", MR + r"/draft_notes", create_draft),
        ("POST", MR + r"/draft_notes/bulk_publish", bulk_publish),
        ("GET", MR + r"/draft_notes/(?P<draft_id>\d+)", get_draft),
        ("PUT", MR + r"/draft_notes/(?P<draft_id>\d+)", update_draft),
        ("DELETE", MR + r"/draft_notes/(?P<draft_id>\d+)", delete_draft),
        ("PUT", MR + r"/draft_notes/(?P<draft_id>\d+)/publish", publish_draft),
    ]
]


def _add_routes(routes: list[tuple[str, str, Handler]]) -> None:
    ROUTES.extend((method, re.compile(f"^{path}$"), handler) for method, path, handler in routes)


def route(method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
    """The handler for an API path (after `/api/v4`), with URL-decoded groups."""
    for route_method, pattern, handler in ROUTES:
        match = pattern.match(path)
        if match and route_method == method:
            return handler, {k: unquote(v) for k, v in match.groupdict().items()}
    return None


def allowed(path: str) -> bool:
    """Whether any method serves this path (405 rather than 404 when only the method is off)."""
    return any(pattern.match(path) for _, pattern, _ in ROUTES)


_add_routes(ci.ROUTES)
