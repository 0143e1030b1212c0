"""What a fake GitLab API handler receives and answers, and GitLab's offset pagination.

Apart from the routes so that every group of handlers (``api``, ``ci``) builds on it without
importing the others.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from tests.fake_gitlab.state import ApiError, GitLabState, MergeRequest, Project, User

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, Any]
    body: dict[str, Any]
    user: User
    state: GitLabState
    base_url: str
    groups: dict[str, str] = field(default_factory=dict)

    def param(self, name: str, default: Any = None) -> Any:
        """A parameter from the JSON/form body or, failing that, the query string."""
        if name in self.body:
            return self.body[name]
        return self.query.get(name, default)

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.param(name, default)
        if isinstance(value, str):
            return value.lower() in ("true", "1", "yes")
        return bool(value)

    def project(self) -> Project:
        """The URL's project; private, so non-members get 404 like on GitLab."""
        found = self.state.project(self.groups["project"])
        if self.user.id not in found.members:
            raise ApiError(404, "404 Project Not Found")
        return found

    def merge_request(self) -> MergeRequest:
        return self.state.merge_request(self.project().id, self.groups["iid"])


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def ok(body: Any, status: int = 200) -> Answer:
    return Answer(status, body)


def paginate(request: Request, items: Sequence[Any]) -> Answer:
    """One page of `items` with GitLab's offset-pagination headers and `Link`."""
    try:
        per_page = min(max(int(request.query.get("per_page", DEFAULT_PER_PAGE)), 1), MAX_PER_PAGE)
        page = max(int(request.query.get("page", 1)), 1)
    except ValueError:
        raise ApiError(400, {"error": "page is invalid"}) from None
    total = len(items)
    pages = max(math.ceil(total / per_page), 1)
    chunk = list(items[(page - 1) * per_page : page * per_page])
    next_page = page + 1 if page < pages else None
    prev_page = page - 1 if page > 1 else None

    def link(target: int) -> str:
        query = {k: v for k, v in request.query.items() if k not in ("page", "per_page")}
        query.update({"page": target, "per_page": per_page})
        return f"{request.base_url}{request.path}?{urlencode(query)}"

    links = []
    if prev_page:
        links.append(f'<{link(prev_page)}>; rel="prev"')
    if next_page:
        links.append(f'<{link(next_page)}>; rel="next"')
    links.append(f'<{link(1)}>; rel="first"')
    links.append(f'<{link(pages)}>; rel="last"')
    headers = {
        "X-Page": str(page),
        "X-Per-Page": str(per_page),
        "X-Total": str(total),
        "X-Total-Pages": str(pages),
        "X-Next-Page": str(next_page or ""),
        "X-Prev-Page": str(prev_page or ""),
        "Link": ", ".join(links),
    }
    return Answer(200, chunk, headers)


Handler = Callable[[Request], Answer]
