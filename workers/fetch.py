"""Fetch what one review analyses, at the MR's head sha, in as few API calls as it allows.

Calls per review: the diffs (one page per 100 changed files); one raw read per analysed file,
whatever GitLab did to its diff (a collapsed or too large diff is empty, the file at the head sha
is not); and, only as rules ask, a non-recursive listing of each folder they look into (the root
for ``.layerbot.yml`` and the CI file, a Dockerfile's build context for its manifests and ignore
files) and a read of each small file they open. Never the whole tree: a 100,000-file monorepo
costs what a ten-file repository does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from layerbot.analysis.config import CONFIG_FILE, Config, ConfigError, parse_config
from layerbot.analysis.discovery import DOCKERFILE, GITLAB_CI, ROOT_CI_FILES, file_kind, kind_in
from layerbot.analysis.engine import decode
from layerbot.analysis.model import InputError, ListedRepoView, Note, RepoView
from workers.gitlab_client import GitLabClient
from workers.mr_model import FileDiff, MergeRequest

log = logging.getLogger(__name__)


@dataclass
class ReviewInput:
    """The files to analyse (raw bytes), their text when they are text, and the repo view."""

    diffs: list[FileDiff]
    files: dict[str, bytes]
    repo: RepoView
    config: Config
    notes: list[Note] = field(default_factory=list)

    @property
    def sources(self) -> dict[str, str]:
        """Analysed files that decode as text (the planner's and the fixer's input)."""
        texts = {}
        for path, data in self.files.items():
            try:
                texts[path] = decode(path, data)
            except InputError:
                continue
        return texts


def changed_targets(diffs: list[FileDiff], repo: RepoView | None = None) -> list[str]:
    """Changed Dockerfiles and CI configs that still exist after the MR: by name, and with
    ``repo`` also the files its root CI configuration builds as Dockerfiles (the same
    discovery as ``layerbot check``)."""
    present = {diff.new_path for diff in diffs if not diff.deleted_file}
    if repo is None:
        return sorted(path for path in present if file_kind(path))
    return sorted(path for path in present if kind_in(repo, path))


def _root_ci_view(client: GitLabClient, mr: MergeRequest) -> RepoView:
    """The root CI configuration alone (one raw read), to ask which files it builds before
    deciding that a merge request changes nothing to review."""
    text = _text(client.file_bytes(mr.project_id, ROOT_CI_FILES[0], mr.sha))
    return RepoView.from_files({ROOT_CI_FILES[0]: text} if text is not None else {})


def _text(data: bytes | None) -> str | None:
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


class _LazyRepo:
    """Reads repository files at one sha on demand, each at most once."""

    def __init__(self, client: GitLabClient, project_id: int, sha: str) -> None:
        self.client = client
        self.project_id = project_id
        self.sha = sha
        self.raw: dict[str, bytes | None] = {}

    def bytes_of(self, path: str) -> bytes | None:
        if path not in self.raw:
            self.raw[path] = self.client.file_bytes(self.project_id, path, self.sha)
        return self.raw[path]

    def text_of(self, path: str) -> str | None:
        return _text(self.bytes_of(path))


def _linked_files(targets: list[str], repo: RepoView, lazy: _LazyRepo) -> list[str]:
    """Dockerfiles a changed CI file builds, and the root CI file when it builds a changed
    Dockerfile: a change on one side is reviewed with its other side."""
    from layerbot.analysis import gitlab_ci

    linked: set[str] = set()
    ci_files = [path for path in targets if file_kind(path) == GITLAB_CI]
    dockerfiles = [path for path in targets if kind_in(repo, path) == DOCKERFILE]
    if dockerfiles and not ci_files:
        ci_files = [path for path in ROOT_CI_FILES if repo.exists(path)][:1]
        root_ci = True
    else:
        root_ci = False
    for ci_path in ci_files:
        text = repo.read(ci_path)
        if text is None:
            continue
        try:
            pipeline = gitlab_ci.load_pipeline(ci_path, text, repo)
        except InputError:
            continue
        built = [path for path in gitlab_ci.dockerfiles_built(pipeline) if repo.exists(path)]
        linked.update(built)
        if root_ci and any(gitlab_ci.ci_jobs_building(pipeline, path) for path in dockerfiles):
            linked.add(ci_path)
    return sorted(linked - set(targets))


def fetch_review_input(client: GitLabClient, mr: MergeRequest) -> ReviewInput:
    project_id, sha = mr.project_id, mr.sha
    diffs = client.merge_request_diffs(project_id, mr.iid)
    targets = changed_targets(diffs)
    if not targets and diffs:
        targets = changed_targets(diffs, _root_ci_view(client, mr))
    if not targets:
        return ReviewInput(diffs, {}, RepoView.from_files({}), Config())
    lazy = _LazyRepo(client, project_id, sha)
    repo = ListedRepoView(
        lambda folder: client.folder_entries(project_id, sha, folder), lazy.text_of
    )
    notes: list[Note] = []
    config = Config()
    if repo.exists(CONFIG_FILE):
        try:
            config = parse_config(repo.read(CONFIG_FILE))
        except ConfigError as error:
            notes.append(Note(CONFIG_FILE, f"{error}; using the defaults"))
    targets = sorted(set(targets) | set(changed_targets(diffs, repo)))
    targets += _linked_files(targets, repo, lazy)
    files: dict[str, bytes] = {}
    for path in sorted(set(targets)):
        data = lazy.bytes_of(path)
        if data is None:
            log.info("%s is in the diff but not at %s; skipped", path, sha[:12])
            continue
        files[path] = data
    return ReviewInput(diffs, files, repo, config, notes)
