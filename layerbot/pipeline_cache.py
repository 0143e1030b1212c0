"""The root CI configuration's facts, kept between runs of ``layerbot check``.

Checking a Dockerfile in a repository with a ``.gitlab-ci.yml`` needs two facts from its
pipeline (:class:`~layerbot.analysis.model.PipelineFacts`): the build context a job passes,
and whether a job runs in the image. Loading the pipeline imports YAML and the CI loader and
parses every included file, which costs more than the rest of a one-file check. Editors and
pre-commit check on every save while the CI configuration rarely changes, so the facts are kept
in one small JSON file per repository, the way mypy and ruff keep their caches.

Kept facts are used only while they are still true: every local file the pipeline was made of
reads the same (a file that was missing is still missing), every folder an ``include:``
wildcard listed lists the same names, and the engine's source files are the ones that worked
them out. Anything else, an unreadable or damaged cache included, is a miss: the facts are
worked out again and the file replaced. A cache that cannot be written costs nothing but time.

Where: ``$LAYERBOT_CACHE_DIR``, else ``$XDG_CACHE_HOME/layerbot``, else ``~/.cache/layerbot``.
"""

from __future__ import annotations

import contextlib
import json
import os
import zlib

from layerbot.analysis import discovery
from layerbot.analysis.model import PipelineFacts, RepoView

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeGuard

CACHE_DIR_VARIABLE = "LAYERBOT_CACHE_DIR"
# Bumped when the cache file's layout changes.
_LAYOUT = 1


def cache_folder() -> str:
    """The folder the cache files live in (see the module docstring)."""
    chosen = os.environ.get(CACHE_DIR_VARIABLE)
    if chosen:
        return chosen
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "layerbot")


def give_pipeline_facts(repo: RepoView, root: str) -> None:
    """Hand ``repo`` (the working tree at ``root``) its pipeline's facts from the cache when
    they are still true; else work them out through the view and keep them for the next run."""
    found = discovery.root_ci_file(repo)
    if found is None:  # no pipeline: no facts to keep, and nothing to load
        return
    path = os.path.join(cache_folder(), "pipelines", f"{zlib.crc32(root.encode()):08x}.json")
    kept = _read(path)
    # Whose facts they are: this repository's, this engine's, from this CI file.
    header = {"layout": _LAYOUT, "root": root, "engine": _engine_stamp(), "ci_file": found[0]}
    repo.pipeline_facts = _kept_facts(kept, header, repo) if kept is not None else None
    if repo.pipeline_facts is not None:
        return
    pipeline = discovery.root_pipeline(repo)
    if pipeline is None:  # invalid: the check of the file says why; nothing to keep
        return
    facts = discovery.pipeline_facts(repo)
    entry = {
        **header,
        "reads": pipeline.reads,
        "listings": pipeline.listings,
        "facts": {"build_contexts": facts.build_contexts, "tool_image_jobs": facts.tool_image_jobs},
    }
    _write(path, json.dumps(entry))


def _read(path: str) -> dict[str, object] | None:
    try:
        with open(path, encoding="utf-8") as handle:
            kept = json.load(handle)
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return kept if isinstance(kept, dict) else None


def _kept_facts(
    kept: dict[str, object], header: dict[str, object], repo: RepoView
) -> PipelineFacts | None:
    """The facts ``kept`` holds when they are ``header``'s (repository, engine, CI file) and
    were worked out from the files and folders the view holds now."""
    if any(kept.get(key) != value for key, value in header.items()):
        return None
    reads, listings, facts = kept.get("reads"), kept.get("listings"), kept.get("facts")
    if not isinstance(facts, dict) or not isinstance(reads, dict) or not isinstance(listings, dict):
        return None
    contexts, runs_in = facts.get("build_contexts"), facts.get("tool_image_jobs")
    if not _is_path_table(contexts) or not _is_path_table(runs_in):
        return None
    unchanged = all(repo.read(name) == text for name, text in reads.items()) and all(
        repo.in_dir(folder) == names for folder, names in listings.items()
    )
    return PipelineFacts(contexts, runs_in) if unchanged else None


def _is_path_table(table: object) -> TypeGuard[dict[str, str]]:
    return isinstance(table, dict) and all(isinstance(v, str) for v in table.values())


def _engine_stamp() -> str:
    """The engine's source files by name, size and modification time, folded into one number:
    an upgrade or an edit of the analysis changes it, and the kept facts with it."""
    folder = os.path.dirname(discovery.__file__)
    with os.scandir(folder) as entries:
        marks = sorted(
            f"{entry.name}:{stat.st_size}:{stat.st_mtime_ns}"
            for entry in entries
            if entry.name.endswith(".py")
            for stat in (entry.stat(),)
        )
    return f"{zlib.crc32('|'.join(marks).encode()):08x}:{len(marks)}"


def _write(path: str, text: str) -> None:
    """Replace the cache file whole (a check running beside this one reads the old file or the
    new one, never half of one); a folder that cannot be written is left as it is."""
    partial = f"{path}.{os.getpid()}.partial"
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        with open(partial, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(partial, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(partial)
