"""Fetch what one review analyses, at the MR's head sha, in few calls and few round trips.

After the diffs (one page per 100 changed files), the reads go in rounds, each asked at once on
the client's pool (``GITLAB_PARALLEL_CALLS``):

1. what the changed files alone say is needed: the raw changed Dockerfiles and CI files, the
   root CI file (read before a listing says it exists: nearly every project that builds images
   has one, and it names the build contexts; a 404 counts among the "others" below), and a
   non-recursive listing of the root and of each folder holding a changed Dockerfile (with the
   folders above it, which a listing needs to be asked: ``ListedRepoView``);
2. what those showed: ``.layerbot.yml`` when the root has one, the Dockerfiles a changed CI file
   builds, the folders of each Dockerfile's build context (its own folder, or the one a CI job
   passes), and the manifests (the ecosystem table's, lockfiles aside) and ignore files found
   there; a round more only when a listing of this round holds more of them.

Whatever else a rule opens (a lockfile, a sub-project's manifest, a sub-folder, a CI include, a
Dockerfile the root CI builds that the merge request does not change) is read when it asks, one
call at a time; apart from manifests, ignore and version files, YAML (the CI configuration's
includes and compose files) and listings inside the build contexts, at most
:data:`MAX_OTHER_READS` such calls per review: past them a file reads as missing and a folder
as empty, and the rules say less (never something false). Never the whole tree: a
100,000-file monorepo costs what a ten-file repository does.
"""

from __future__ import annotations

import fnmatch
import logging
import posixpath
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import partial

from layerbot.analysis import ecosystems, gitlab_ci
from layerbot.analysis.config import CONFIG_FILE, Config, ConfigError, parse_config
from layerbot.analysis.discovery import (
    DOCKERFILE,
    GITLAB_CI,
    ROOT_CI_FILES,
    build_context,
    file_kind,
    kind_in,
)
from layerbot.analysis.engine import decode
from layerbot.analysis.model import InputError, ListedRepoView, Note, RepoView
from layerbot.analysis.project import NODE_VERSION_FILES
from workers.gitlab_client import GitLabClient
from workers.mr_model import FileDiff, MergeRequest

log = logging.getLogger(__name__)

MAX_OTHER_READS = 4
"""Calls made on demand per review beyond the rounds' reads, manifests, ignore and version
files, YAML and the build contexts' folders (issue 13: "at most 4 others")."""

READ_WHEN_ASKED = frozenset(
    {
        "go.sum",
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "poetry.lock",
        "uv.lock",
        "Pipfile.lock",
        "Cargo.lock",
        "Gemfile.lock",
        "mix.lock",
        "composer.lock",
    }
)
"""Manifests never read ahead: lockfiles are generated, often megabytes, and a rule opens one
only for a detail (Cargo.lock's ``openssl-sys``)."""

_MANIFEST_NAMES = tuple(
    sorted(
        {
            pattern
            for ecosystem in ecosystems.ECOSYSTEMS
            for pattern in ecosystem.manifests
            if "/" not in pattern
        }
    )
)
_IGNORE_FILE = ".dockerignore"
_READ_AHEAD = frozenset({_IGNORE_FILE, *NODE_VERSION_FILES})
"""Read ahead from a build context besides its manifests: the ignore file, and the files
that name a Node version (``.python-version``, ``rust-toolchain`` are manifests already)."""


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


def _text(data: bytes | None) -> str | None:
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _root_ci_view(client: GitLabClient, mr: MergeRequest) -> RepoView:
    """The root CI configuration alone (one raw read), to ask which files it builds before
    deciding that a merge request changes nothing to review."""
    text = _text(client.file_bytes(mr.project_id, ROOT_CI_FILES[0], mr.sha))
    return RepoView.from_files({ROOT_CI_FILES[0]: text} if text is not None else {})


def is_manifest(path: str) -> bool:
    """A file some ecosystem's install reads, by its name (sub-projects' too)."""
    name = posixpath.basename(path)
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in _MANIFEST_NAMES)


def _expected(path: str) -> bool:
    """Read without counting against :data:`MAX_OTHER_READS`: manifests, ignore and version
    files, and YAML (the CI configuration's includes)."""
    return (
        is_manifest(path)
        or path.endswith(_IGNORE_FILE)
        or posixpath.basename(path) in _READ_AHEAD
        or path.endswith((".yml", ".yaml"))
    )


def _below(folder: str, top: str) -> bool:
    return not top or folder == top or folder.startswith(top + "/")


def with_parents(folders: Iterable[str]) -> set[str]:
    """The folders and every folder above them, the root ('') included."""
    found = {""}
    for folder in folders:
        while folder not in ("", "."):
            found.add(folder)
            folder = posixpath.dirname(folder)
    return found


class RepoReads:
    """Folder listings and raw files at one sha, each asked of GitLab at most once: in rounds
    on the client's pool when the review can tell it needs them, else when a rule asks."""

    def __init__(self, client: GitLabClient, project_id: int, sha: str) -> None:
        self.client = client
        self.project_id = project_id
        self.sha = sha
        self.folders: dict[str, dict[str, bool]] = {}
        self.raw: dict[str, bytes | None] = {}
        self.contexts: set[str] = set()
        """Build context folders: listed below them without counting."""
        self.others = 0

    def prefetch(self, folders: Iterable[str], files: Iterable[str]) -> bool:
        """List the folders and read the files not asked yet, all at once; whether any was."""
        client = self.client
        listings: dict[str, Future[dict[str, bool]]] = {
            folder: client.submit(partial(client.folder_entries, self.project_id, self.sha, folder))
            for folder in sorted(set(folders) - set(self.folders))
        }
        blobs: dict[str, Future[bytes | None]] = {
            path: client.submit(partial(client.file_bytes, self.project_id, path, self.sha))
            for path in sorted(set(files) - set(self.raw))
        }
        self.client.settle([*listings.values(), *blobs.values()])
        self.folders.update({folder: future.result() for folder, future in listings.items()})
        self.raw.update({path: future.result() for path, future in blobs.items()})
        return bool(listings or blobs)

    def _spend(self, what: str) -> bool:
        """Whether one more call the rounds did not foresee may be made."""
        if self.others >= MAX_OTHER_READS:
            log.info("%s not read: over %d other reads", what, MAX_OTHER_READS)
            return False
        self.others += 1
        return True

    def listing(self, folder: str) -> dict[str, bool]:
        """``ListedRepoView``'s lister: what a round fetched, else one call now (a folder
        outside the build contexts counts as an other read)."""
        if folder not in self.folders:
            inside = any(_below(folder, context) for context in self.contexts)
            if not inside and not self._spend(f"folder {folder!r}"):
                return {}
            self.folders[folder] = self.client.folder_entries(self.project_id, self.sha, folder)
        return self.folders[folder]

    def bytes_of(self, path: str) -> bytes | None:
        if path not in self.raw:
            if not _expected(path) and not self._spend(path):
                return None
            self.raw[path] = self.client.file_bytes(self.project_id, path, self.sha)
        return self.raw[path]

    def text_of(self, path: str) -> str | None:
        """``ListedRepoView``'s reader."""
        return _text(self.bytes_of(path))


def _listed(reads: RepoReads, folder: str) -> dict[str, bool] | None:
    return reads.folders.get("" if folder in ("", ".") else posixpath.normpath(folder))


def _context(repo: RepoView, dockerfile: str) -> str:
    """The Dockerfile's build context folder ('' for the root), as the engine will take it."""
    own = posixpath.dirname(dockerfile)
    given = build_context(repo, dockerfile)
    if given is None:
        return own
    folder = posixpath.normpath(given)
    if folder.startswith(("..", "/")):
        return own  # outside the repository: nothing to read there
    return "" if folder == "." else folder


def next_round(
    repo: RepoView, reads: RepoReads, dockerfiles: list[str]
) -> tuple[set[str], set[str]]:
    """Folders to list and files to read that what is known so far shows the review needs:
    each Dockerfile (once its folder is listed), its folder and build context, and the
    manifests and ignore files listed there; ``.layerbot.yml`` when the root lists it."""
    folders: set[str] = set()
    files = {CONFIG_FILE} if reads.folders.get("", {}).get(CONFIG_FILE) else set()
    for path in dockerfiles:
        own, context = posixpath.dirname(path), _context(repo, path)
        folders |= with_parents([own, context])
        beside = _listed(reads, own) or {}
        name = posixpath.basename(path)
        files |= {f"{path}{suffix}" for suffix in ("", _IGNORE_FILE) if beside.get(name + suffix)}
        entries = _listed(reads, context)
        prefix = context + "/" if context else ""
        for name, is_file in (entries or {}).items():
            wanted = name in _READ_AHEAD or (is_manifest(name) and name not in READ_WHEN_ASKED)
            if is_file and wanted:
                files.add(prefix + name)
    return folders, files


def _linked_files(targets: list[str], repo: RepoView) -> list[str]:
    """Dockerfiles a changed CI file builds, and the root CI file when it builds a changed
    Dockerfile: a change on one side is reviewed with its other side (docs/worker.md)."""
    linked: set[str] = set()
    ci_files = [path for path in targets if file_kind(path) == GITLAB_CI]
    dockerfiles = [path for path in targets if kind_in(repo, path) == DOCKERFILE]
    root_ci = bool(dockerfiles) and not ci_files
    if root_ci:
        ci_files = [path for path in ROOT_CI_FILES if repo.exists(path)][:1]
    for ci_path in ci_files:
        text = repo.read(ci_path)
        if text is None:
            continue
        try:
            pipeline = gitlab_ci.load_pipeline(ci_path, text, repo)
        except InputError:
            continue
        if not root_ci:
            linked.update(gitlab_ci.dockerfiles_built(pipeline))
        elif any(gitlab_ci.ci_jobs_building(pipeline, path) for path in dockerfiles):
            linked.add(ci_path)
    return sorted(linked - set(targets))


class ReviewFetch:
    """One review's reads, in two steps so the caller can start other calls in between:
    :meth:`start` reads what the changed files alone say is needed and names the Dockerfiles
    to analyse; :meth:`finish` reads their build contexts and returns the input."""

    def __init__(self, client: GitLabClient, mr: MergeRequest, diffs: list[FileDiff]) -> None:
        self.mr = mr
        self.diffs = diffs
        self.reads = RepoReads(client, mr.project_id, mr.sha)
        self.repo: RepoView = ListedRepoView(self.reads.listing, self.reads.text_of)
        self.analysed: list[str] = []
        self.dockerfiles: list[str] = []

    @classmethod
    def start(
        cls, client: GitLabClient, mr: MergeRequest, diffs: list[FileDiff]
    ) -> ReviewFetch | None:
        """The first round; ``None`` when the merge request changes nothing to review."""
        targets = changed_targets(diffs)
        if not targets and diffs:
            targets = changed_targets(diffs, _root_ci_view(client, mr))
        if not targets:
            return None
        fetch = cls(client, mr, diffs)
        folders = with_parents(posixpath.dirname(path) for path in targets)
        fetch.reads.prefetch(folders, [*targets, ROOT_CI_FILES[0]])
        targets = sorted(set(targets) | set(changed_targets(diffs, fetch.repo)))
        fetch.analysed = sorted(set(targets) | set(_linked_files(targets, fetch.repo)))
        fetch.dockerfiles = [p for p in fetch.analysed if kind_in(fetch.repo, p) == DOCKERFILE]
        fetch.reads.contexts = {_context(fetch.repo, path) for path in fetch.dockerfiles}
        return fetch

    def finish(self) -> ReviewInput:
        """The build contexts' rounds, ``.layerbot.yml``, and the files to analyse."""
        repo, reads = self.repo, self.reads
        while reads.prefetch(*next_round(repo, reads, self.dockerfiles)):
            pass
        notes: list[Note] = []
        config = Config()
        if repo.exists(CONFIG_FILE):
            try:
                config = parse_config(repo.read(CONFIG_FILE))
            except ConfigError as error:
                notes.append(Note(CONFIG_FILE, f"{error}; using the defaults"))
        files: dict[str, bytes] = {}
        for path in self.analysed:
            data = reads.bytes_of(path) if repo.exists(path) else None
            if data is None:
                log.info("%s is in the diff but not at %s; skipped", path, self.mr.sha[:12])
                continue
            files[path] = data
        return ReviewInput(self.diffs, files, repo, config, notes)


def no_input(diffs: list[FileDiff]) -> ReviewInput:
    """The input of a merge request that changes nothing to review."""
    return ReviewInput(diffs, {}, RepoView.from_files({}), Config())


def fetch_review_input(
    client: GitLabClient, mr: MergeRequest, diffs: list[FileDiff] | None = None
) -> ReviewInput:
    """The review's input, both steps of :class:`ReviewFetch` at once (``diffs`` when the
    caller read them already)."""
    if diffs is None:
        diffs = client.merge_request_diffs(mr.project_id, mr.iid)
    fetch = ReviewFetch.start(client, mr, diffs)
    return fetch.finish() if fetch is not None else no_input(diffs)
