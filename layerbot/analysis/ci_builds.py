"""Image builds in CI job scripts: the tool, the Dockerfile, the tags, the cache, BuildKit or not.

A job's commands come from :mod:`layerbot.analysis.ci_script`. A build remembers the flags as
written too, so fixes reuse the job's own variable names. :class:`BuildIndex` holds every build
of a pipeline by tag, cache export and script line, so the rules stay linear in jobs.
"""

from __future__ import annotations

import csv
import fnmatch
import posixpath
import re
from enum import StrEnum

from layerbot.analysis.ci_jobs import Job
from layerbot.analysis.ci_script import (
    Flags,
    Step,
    after_word,
    docker_words,
    expand,
    job_variables,
    parse_flags,
    project_path,
    script_steps,
)
from layerbot.analysis.image_ref import parse_image
from layerbot.analysis.memo import cached_property
from layerbot.analysis.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final


class Tool(StrEnum):
    DOCKER = "docker build"
    BUILDX = "docker buildx build"
    COMPOSE = "docker compose build"
    KANIKO = "kaniko"
    BUILDAH = "buildah"
    BUILDCTL = "buildctl build"


class BuildKit(StrEnum):
    ON = "on"
    OFF = "off"
    UNKNOWN = "unknown"


# GitLab's predefined variables that differ in every pipeline (or every tag pipeline).
_THIS_PIPELINE = re.compile(
    r"CI_COMMIT_SHA|CI_COMMIT_SHORT_SHA|CI_PIPELINE_I?ID|CI_JOB_ID|CI_COMMIT_TIMESTAMP|CI_COMMIT_TAG"
)
# Predefined variables named after the pipeline's ref: in a tag pipeline that is the new tag.
_REF_NAMED = re.compile(r"CI_COMMIT_REF_SLUG|CI_COMMIT_REF_NAME|CI_COMMIT_BRANCH")
_COMMAND_SUBSTITUTION = re.compile(r"\$\(|`")
_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
# Host names under which a job reaches a Docker-in-Docker service (GitLab's name for the
# ``docker:dind`` service, its usual aliases, or the pod itself on Kubernetes runners).
_SERVICE_HOSTS = frozenset({"docker", "dind", "docker-dind", "localhost", "127.0.0.1", "0.0.0.0"})
_DEPENDENCY_PROXY = re.compile(r"^\$\{?CI_DEPENDENCY_PROXY_[A-Z_]*PREFIX\}?/")


class JobScan(Record):
    """A job's commands, and what they push, pull and set up, indexed by normalised image
    reference so that rules ask in constant time however long the script is."""

    __slots__ = (
        "container_builder_at",
        "loads",
        "pulls",
        "pushes",
        "pushes_every_tag",
        "retags",
        "steps",
    )

    def __init__(
        self,
        steps: tuple[Step, ...],
        pushes: dict[str, list[int]],
        pushes_every_tag: dict[str, list[int]],
        pulls: dict[str, list[int]],
        container_builder_at: int | None,
        loads: tuple[tuple[int, str], ...],
        retags: dict[str, list[int]],
    ) -> None:
        self.steps: Final = steps
        self.pushes: Final = pushes
        self.pushes_every_tag: Final = pushes_every_tag
        self.pulls: Final = pulls
        self.container_builder_at: Final = container_builder_at
        self.loads: Final = loads  # (step, archive) of each `docker load`
        self.retags: Final = retags  # the source image of each `docker tag SOURCE TARGET`

    @classmethod
    def of(cls, steps: tuple[Step, ...]) -> JobScan:
        pushes: dict[str, list[int]] = {}
        every_tag: dict[str, list[int]] = {}
        pulls: dict[str, list[int]] = {}
        builder_at = None
        loads: list[tuple[int, str]] = []
        retags: dict[str, list[int]] = {}
        for step in steps:
            words = docker_words(step.resolved)
            verb = words[1] if words[:1] == ["image"] and len(words) > 1 else words[:1] and words[0]
            if verb in ("push", "pull"):
                flags = parse_flags(step.resolved[after_word(step.resolved, verb) :])
                for name in flags.positionals:
                    if verb == "pull":
                        pulls.setdefault(parse_image(name).key, []).append(step.index)
                    elif flags.on("--all-tags"):
                        every_tag.setdefault(parse_image(name).canonical_name, []).append(
                            step.index
                        )
                    else:
                        pushes.setdefault(parse_image(name).key, []).append(step.index)
            elif verb == "tag":
                sources = parse_flags(step.resolved[after_word(step.resolved, verb) :]).positionals
                if sources:
                    retags.setdefault(parse_image(sources[0]).key, []).append(step.index)
            elif verb == "load":
                archives = _archives_loaded(step.resolved)
                if not archives and step.position:  # `gunzip -c cache/app.tar.gz | docker load`
                    feeding = steps[step.index - 1].resolved
                    archives = [word.lstrip("<") for word in feeding[1:] if ".tar" in word]
                loads.extend((step.index, archive) for archive in archives)
            elif words[:2] == ["buildx", "create"] and builder_at is None:
                drivers = parse_flags(step.resolved[3:]).values("--driver")
                if not drivers or drivers[-1] != "docker":
                    builder_at = step.index
        return cls(steps, pushes, every_tag, pulls, builder_at, tuple(loads), retags)

    def needs_from_daemon(self, built: set[str]) -> set[str]:
        """Images this job pushes or retags without building, pulling or loading them first:
        they must already be in the daemon, left there by another job (``docker push`` and
        ``docker tag`` never pull)."""
        first_load = min((index for index, _ in self.loads), default=None)
        needed = set()
        for uses in (self.pushes, self.retags):
            for key, indexes in uses.items():
                pulled = self.pulls.get(key, [])
                if key in built or (pulled and pulled[0] < indexes[0]):
                    continue
                if first_load is None or first_load > indexes[0]:
                    needed.add(key)
        return needed


def _archives_loaded(argv: tuple[str, ...]) -> list[str]:
    """The tar archives a ``docker load`` reads: ``-i``/``--input`` or a ``<`` redirect."""
    found = parse_flags(argv[after_word(argv, "load") :]).values("--input", "-i")
    for index, word in enumerate(argv):
        if word == "<" and index + 1 < len(argv):
            found.append(argv[index + 1])
        elif word.startswith("<") and len(word) > 1 and not word.startswith("<<"):
            found.append(word[1:])
    return found


class Build(Record):
    """One image build command of a job."""

    __slots__ = (
        "__dict__",
        "buildkit",
        "buildkit_reason",
        "context",
        "dockerfile",
        "job",
        "resolved",
        "scan",
        "step",
        "tool",
        "variables",
        "written",
    )

    def __init__(
        self,
        job: Job,
        step: Step,
        scan: JobScan,
        tool: Tool,
        written: Flags,
        resolved: Flags,
        buildkit: BuildKit,
        buildkit_reason: str,
        dockerfile: str | None,
        context: str | None,
        variables: dict[str, str],
    ) -> None:
        self.job: Final = job
        self.step: Final = step
        self.scan: Final = scan
        self.tool: Final = tool
        self.written: Final = written
        self.resolved: Final = resolved
        self.buildkit: Final = buildkit
        self.buildkit_reason: Final = buildkit_reason
        self.dockerfile: Final = dockerfile
        self.context: Final = context
        self.variables: Final = variables

    @cached_property
    def tags(self) -> list[tuple[str, str]]:
        """``(as written, resolved)`` for every image name the build produces."""
        if self.tool is Tool.BUILDCTL:
            written, resolved = _output_names(self.written), _output_names(self.resolved)
            if len(written) != len(resolved):  # a variable holding several names
                written = resolved
            return list(zip(written, resolved, strict=True))
        names = ("--tag", "--destination") if self.tool is Tool.KANIKO else ("--tag",)
        return list(zip(self.written.values(*names), self.resolved.values(*names), strict=True))

    @property
    def cache_from(self) -> list[str]:
        """Cache sources: ``--cache-from``, buildctl's ``--import-cache``."""
        flag = "--import-cache" if self.tool is Tool.BUILDCTL else "--cache-from"
        return self.resolved.values(flag)

    @property
    def cache_to(self) -> list[str]:
        """Cache exports: ``--cache-to``, buildctl's ``--export-cache``."""
        flag = "--export-cache" if self.tool is Tool.BUILDCTL else "--cache-to"
        return self.resolved.values(flag)

    @property
    def target(self) -> str | None:
        if self.tool is Tool.BUILDCTL:
            targets = _keyed(self.resolved.values("--opt"), "target")
        else:
            targets = self.resolved.values("--target")
        return targets[-1] if targets else None

    @property
    def build_args(self) -> list[str]:
        """``NAME=value`` (or a bare ``NAME``) of each build argument: ``--build-arg``,
        buildctl's ``--opt build-arg:NAME=value``."""
        if self.tool is Tool.BUILDCTL:
            options = self.resolved.values("--opt")
            return [o.removeprefix("build-arg:") for o in options if o.startswith("build-arg:")]
        return self.resolved.values("--build-arg")

    @property
    def inline_cache(self) -> bool:
        """Whether the image carries BuildKit cache metadata (or a cache manifest is exported).

        ``--build-arg BUILDKIT_INLINE_CACHE=1`` (any value Go's ``strconv.ParseBool`` takes as
        true, as BuildKit reads it), or the bare ``--build-arg BUILDKIT_INLINE_CACHE`` that takes
        the job's variable of that name."""
        for argument in self.build_args:
            name, equals, value = argument.replace(" ", "").partition("=")
            if name != "BUILDKIT_INLINE_CACHE":
                continue
            value = value if equals else self.variables.get(name, "")
            if value.strip("\"'") in _GO_TRUE:
                return True
        return bool(self.cache_to)

    @property
    def pushes_itself(self) -> bool:
        if self.tool is Tool.KANIKO:
            return bool(self.resolved.values("--destination")) and not self.resolved.on("--no-push")
        if self.tool is Tool.BUILDCTL:
            return any(
                o.get("type") == "registry" or o.get("push", "").lower() in _GO_TRUE
                for o in map(_csv_options, self.resolved.values("--output"))
            )
        outputs = " ".join(self.resolved.values("--output"))
        return self.resolved.on("--push") or "type=registry" in outputs or "push=true" in outputs

    @property
    def steps(self) -> tuple[Step, ...]:
        return self.scan.steps

    def pushed(self, reference: str) -> bool:
        """Whether ``reference`` (resolved) reaches the registry from this job after the build."""
        wanted = parse_image(reference).key
        if self.pushes_itself and wanted in {parse_image(r).key for _, r in self.tags}:
            return True
        later = self.push_after(reference) is not None
        every = self.scan.pushes_every_tag.get(parse_image(reference).canonical_name, [])
        return later or any(index > self.step.index for index in every)

    @cached_property
    def retagged(self) -> list[tuple[str, str]]:
        """``(as written, resolved)`` of each ``docker tag BUILT TARGET`` of the job after the
        build whose TARGET a later ``docker push`` sends to the registry."""
        built = {parse_image(resolved).key for _, resolved in self.tags}
        found = []
        for key in built:
            for index in self.scan.retags.get(key, []):
                if index <= self.step.index:
                    continue
                step = self.steps[index]
                start = after_word(step.resolved, "tag")
                written = parse_flags(step.written[start:]).positionals
                resolved = parse_flags(step.resolved[start:]).positionals
                if len(resolved) < 2 or len(written) != len(resolved):
                    continue
                pushes = self.scan.pushes.get(parse_image(resolved[1]).key, [])
                if any(push > index for push in pushes):
                    found.append((index, written[1], resolved[1]))
        return [(written, resolved) for _, written, resolved in sorted(found)]

    def push_after(self, reference: str) -> Step | None:
        """The first ``docker push`` of ``reference`` after this build."""
        indexes = self.scan.pushes.get(parse_image(reference).key, [])
        later = [index for index in indexes if index > self.step.index]
        return self.steps[later[0]] if later else None

    @property
    def no_cache(self) -> bool:
        """``--no-cache``: the build reads no layer cache at all, ``--cache-from`` included."""
        return self.resolved.on("--no-cache")

    @property
    def host_daemon(self) -> str | None:
        """Why the build runs on a Docker daemon that outlives the job (a shell runner's), whose
        layer cache the next pipeline finds; ``None`` when it may be a fresh one.

        A job tagged for a shell runner with no ``docker:dind`` service and no ``DOCKER_HOST``
        on TCP builds with the host's daemon (https://docs.gitlab.com/ci/docker/using_docker_build/#use-the-shell-executor).
        """
        if self.tool not in (Tool.DOCKER, Tool.BUILDX, Tool.COMPOSE, Tool.BUILDCTL):
            return None
        if any("dind" in service for service in self.job.services):
            return None
        remote = self.remote_daemon
        if remote is not None:
            daemon = "BuildKit" if self.tool is Tool.BUILDCTL else "Docker"
            return f"it builds on the {daemon} daemon at `{remote}`, a host that outlives the job"
        if self.tool is Tool.BUILDCTL:
            return None  # buildctl talks to a buildkitd, never to the runner's Docker daemon
        if self.variables.get("DOCKER_HOST", "").startswith("tcp://"):
            return None
        shell = next((tag for tag in self.job.tags if "shell" in tag.lower()), None)
        return f"it runs on a shell runner (`tags: [{shell}]`)" if shell else None

    @property
    def daemon(self) -> str:
        """The daemon address the build talks to: ``docker -H``/``--host``, else the job's
        ``DOCKER_HOST``; for buildctl ``--addr``, else ``BUILDKIT_HOST``; ``""`` for the
        default socket."""
        argv = self.step.resolved
        buildctl = self.tool is Tool.BUILDCTL
        flags = ("--addr",) if buildctl else ("-H", "--host")
        for index, word in enumerate(argv):
            if word in flags and index + 1 < len(argv):
                return argv[index + 1]
            if word.startswith(tuple(f"{flag}=" for flag in flags)):
                return word.split("=", 1)[1]
            if word in ("build", "buildx", "compose", "bud"):
                break  # the daemon flags come before the sub-command
        return self.variables.get("BUILDKIT_HOST" if buildctl else "DOCKER_HOST", "")

    @property
    def remote_daemon(self) -> str | None:
        """The daemon a job with no Docker-in-Docker service builds on when it names another
        host (``DOCKER_HOST=ssh://deploy@build01``, ``tcp://build01:2376``, ``docker -H
        ...``): a machine of its own, whose image store and build cache outlive the job. A TCP
        address of the usual service names (``docker``, ``localhost``) is a Docker-in-Docker
        service the runner adds, and starts empty."""
        if self.tool is Tool.BUILDCTL and (
            self.step.resolved[0].endswith("buildctl-daemonless.sh")
            or any("buildkit" in service for service in self.job.services)
        ):
            return None  # a buildkitd of the job's own (the script starts one, or a service)
        host = self.daemon
        scheme, _, rest = host.partition("://")
        name = rest.rsplit("@", 1)[-1].split(":", 1)[0].split("/", 1)[0]
        if scheme == "ssh" and name:
            return host
        if scheme == "tcp" and name and "$" not in name and name not in _SERVICE_HOSTS:
            return host
        return None

    @property
    def loads_cached_image(self) -> str | None:
        """The archive kept in the job's ``cache:`` that a ``docker load`` reads before the
        build (the previous pipeline's ``docker save``), or ``None``."""
        for index, archive in self.scan.loads:
            if index < self.step.index and _kept_by(project_path(archive), self.job.cache_paths):
                return archive
        return None

    def pulled_before(self, reference: str) -> bool:
        indexes = self.scan.pulls.get(parse_image(reference).key, [])
        return bool(indexes) and indexes[0] < self.step.index

    @property
    def after_container_builder(self) -> bool:
        """Whether the job creates a ``docker-container`` builder (``docker buildx create``,
        whose default driver that is) before this build: only such a builder exports a
        registry cache."""
        at = self.scan.container_builder_at
        return at is not None and at < self.step.index


def _kept_by(path: str, cache_paths: tuple[str, ...]) -> bool:
    """Whether a job's ``cache: paths:`` (folders or globs, from the project folder) hold
    ``path``."""
    path = posixpath.normpath(path)
    for pattern in cache_paths:
        pattern = posixpath.normpath(project_path(pattern)).rstrip("/")
        if path == pattern or path.startswith(pattern + "/") or fnmatch.fnmatch(path, pattern):
            return True
        if pattern.endswith("/*") and path.startswith(pattern[:-1]):
            return True
    return False


def is_stable(reference: str, job: Job | None = None) -> bool:
    """A tag the next pipeline (of ``job``) builds again (a branch, ``latest``), not one per
    commit, nor, for a job that runs in tag pipelines only, one named after the ref."""
    return not made_by_this_pipeline(reference, job) and not _COMMAND_SUBSTITUTION.search(reference)


def made_by_this_pipeline(reference: str, job: Job | None = None) -> bool:
    """A tag named after this very pipeline (``$CI_COMMIT_SHA``...): no earlier pipeline can
    have pushed it. In a job that runs in tag pipelines only, a tag named after the ref
    (``$CI_COMMIT_REF_SLUG``) is one too: each tag pipeline's ref is a new tag
    (https://docs.gitlab.com/ci/variables/predefined_variables/). A tag a command computes
    (``$(cat VERSION)``) may be either: not this. The whole reference is read, not the tag
    alone: ``${CI_COMMIT_SHA::8}`` has colons of its own, and a repository path named after
    the pipeline is as new as such a tag."""
    if job is not None and job.tag_pipelines_only and _REF_NAMED.search(reference):
        return True
    return bool(_THIS_PIPELINE.search(reference))


def _keyed(values: list[str], key: str) -> list[str]:
    """The values of ``key=value`` entries (buildctl's ``--local``/``--opt``)."""
    return [value.partition("=")[2] for value in values if value.partition("=")[0] == key]


def _csv_options(value: str) -> dict[str, str]:
    """``type=image,"name=a,b",push=true`` as options: BuildKit reads ``--output``,
    ``--import-cache`` and ``--export-cache`` as one CSV record, so a quoted field may hold
    commas."""
    fields = next(csv.reader([value]), [])
    return {key.strip(): val for key, _, val in (field.partition("=") for field in fields)}


def _output_names(flags: Flags) -> list[str]:
    """The image names of buildctl's ``--output type=image|registry,name=A[,B]``."""
    names: list[str] = []
    for value in flags.values("--output"):
        options = _csv_options(value)
        if options.get("type") in ("image", "registry") and options.get("name"):
            names.extend(name for name in options["name"].split(",") if name)
    return names


def _classify(argv: tuple[str, ...], job: Job) -> tuple[Tool, int] | None:
    """The build tool and where its own arguments start, or ``None`` for other commands."""
    if not argv:
        return None
    program = argv[0].rsplit("/", 1)[-1]
    if program == "executor" and ("kaniko" in argv[0] or "kaniko" in (job.image or "")):
        return Tool.KANIKO, 1
    words = docker_words(argv)
    if program in ("buildctl", "buildctl-daemonless.sh"):
        return (Tool.BUILDCTL, after_word(argv, "build")) if words[:1] == ["build"] else None
    if program == "buildah" and words[:1] in (["bud"], ["build"]):
        return Tool.BUILDAH, after_word(argv, words[0])
    if program == "docker-compose" and "build" in words:
        return Tool.COMPOSE, after_word(argv, "build")
    if program != "docker":
        return None
    if words[:1] == ["build"] or words[:2] in (["image", "build"], ["builder", "build"]):
        return Tool.DOCKER, after_word(argv, "build")
    if words[:1] == ["buildx"] and len(words) > 1 and words[1] in ("build", "b"):
        return Tool.BUILDX, after_word(argv, words[1])
    if words[:1] == ["compose"] and "build" in words:
        return Tool.COMPOSE, after_word(argv, "build")
    return None


def _repo_path(*parts: str | None) -> str | None:
    if any(part is None for part in parts):
        return None
    cleaned = [project_path(part) for part in parts if part is not None]
    if any("$" in part or "://" in part or part.startswith("/") for part in cleaned):
        return None
    return posixpath.normpath(posixpath.join(*cleaned))


def _files(tool: Tool, flags: Flags, cwd: str | None) -> tuple[str | None, str | None]:
    """The Dockerfile's repository path and the build context, where the command says so."""
    if tool is Tool.COMPOSE:
        return None, None
    if tool is Tool.BUILDCTL:
        # `--local dockerfile=DIR` holds `--opt filename=NAME` (default Dockerfile)
        locals_ = flags.values("--local")
        folders, contexts = _keyed(locals_, "dockerfile"), _keyed(locals_, "context")
        names = _keyed(flags.values("--opt"), "filename") or ["Dockerfile"]
        dockerfile = _repo_path(cwd, folders[-1], names[-1]) if folders else None
        return dockerfile, (_repo_path(cwd, contexts[-1]) if contexts else None)
    if tool is Tool.KANIKO:
        context = (flags.values("--context") or ["."])[-1]
        dockerfile = (flags.values("--dockerfile") or ["Dockerfile"])[-1]
        if project_path(dockerfile).startswith("."):
            return _repo_path(dockerfile), _repo_path(context)
        return _repo_path(context, dockerfile), _repo_path(context)
    if tool is Tool.BUILDAH and not flags.positionals:
        flags = Flags(flags.pairs, (".",))  # buildah builds the working directory by default
    if not flags.positionals or flags.positionals[-1] == "-":
        return None, None
    context = flags.positionals[-1]
    files = flags.values("--file")
    if files:
        return (None if files[-1] == "-" else _repo_path(cwd, files[-1])), _repo_path(cwd, context)
    return _repo_path(cwd, context, "Dockerfile"), _repo_path(cwd, context)


def docker_version(image: str | None) -> tuple[BuildKit, str] | None:
    """What a ``docker:<tag>`` image's CLI builds with by default, or ``None`` if not docker."""
    reference = parse_image(_DEPENDENCY_PROXY.sub("", image or ""))
    if reference.canonical_name != "docker.io/library/docker":
        return None
    tag = reference.tag_or_latest
    major = re.match(r"(\d+)", tag)
    if major and int(major.group(1)) < 23:
        return BuildKit.OFF, f"`{image}` predates Docker Engine 23, so it uses the classic builder"
    if tag.startswith("stable"):
        return BuildKit.OFF, f"`{image}` is the long-retired 19.03 line: the classic builder"
    return BuildKit.ON, f"`{image}` is Docker Engine 23 or later, where BuildKit is the default"


def _service_version(job: Job, variables: dict[str, str]) -> tuple[BuildKit, str] | None:
    """What the job's Docker-in-Docker service, the daemon the build talks to, advertises as its
    builder: a daemon of Engine 23 or later tells every docker CLI since 18.09 to use BuildKit."""
    for service in job.services:
        name = expand(service, variables)
        version = docker_version(name.removesuffix("-dind"))
        if version is None and "dind" in service:
            version = docker_version(name.split("-dind")[0])
        if version is not None:
            if version[0] is BuildKit.ON:
                return BuildKit.ON, (
                    f"the `{service}` service is Docker Engine 23 or later, whose daemon tells "
                    "the docker CLI to build with BuildKit"
                )
            return version
    return None


def _buildkit(tool: Tool, step: Step, job: Job, variables: dict[str, str]) -> tuple[BuildKit, str]:
    if tool is Tool.BUILDX:
        return BuildKit.ON, "`docker buildx build` always uses BuildKit"
    if tool is Tool.BUILDCTL:
        return BuildKit.ON, "`buildctl` is BuildKit's own client"
    prefix = re.match(r"\s*(?:\w+=\S*\s+)*", step.command.text)
    setting = re.search(r"\bDOCKER_BUILDKIT=(\S+)", prefix.group(0) if prefix else "")
    value = setting.group(1) if setting else variables.get("DOCKER_BUILDKIT")
    if value is not None:
        state = value.strip("\"'").lower() in ("1", "true")
        return (BuildKit.ON if state else BuildKit.OFF), f"DOCKER_BUILDKIT={value}"
    client = docker_version(expand(job.image or "", variables))
    daemon = _service_version(job, variables)
    # The classic builder only when neither side asks for BuildKit: a CLI of Engine 23 or later
    # defaults to it, and an older CLI follows what a newer daemon advertises.
    for version in (client, daemon):
        if version is not None and version[0] is BuildKit.ON:
            return version
    version = client or daemon
    if version is not None:
        return version
    return BuildKit.UNKNOWN, "the job's image does not say which Docker version runs the build"


def builds_of(job: Job) -> list[Build]:
    """The image builds in ``job``'s scripts, in run order."""
    variables = job_variables(job)
    scan = JobScan.of(tuple(script_steps(job, variables)))
    found = []
    for step in scan.steps:
        classified = _classify(step.resolved, job) or _classify(step.written, job)
        if classified is None:
            continue
        tool, start = classified
        written = parse_flags(step.written[start:])
        resolved = parse_flags(step.resolved[start:])
        state, reason = _buildkit(tool, step, job, variables)
        dockerfile, context = _files(tool, resolved, step.cwd)
        found.append(
            Build(
                job,
                step,
                scan,
                tool,
                written,
                resolved,
                state,
                reason,
                dockerfile,
                context,
                variables,
            )
        )
    return found


def cache_options(value: str) -> dict[str, str]:
    """The options of one ``--cache-from``/``--cache-to`` value (buildctl's ``--import-cache``,
    ``--export-cache``): ``type`` defaults to ``registry``, and a bare image reference is a
    registry cache's ``ref`` (Docker docs, "docker buildx build", `--cache-from`:
    ``--cache-from=user/app:cache`` is ``type=registry,ref=user/app:cache``); BuildKit reads the
    value as one CSV record."""
    options = _csv_options(value) if "=" in value else {"ref": value}
    return {"type": "registry", **options}


def cache_references(values: list[str]) -> list[str]:
    """Image references in ``--cache-from``/``--cache-to`` values (``type=registry,ref=X`` or a
    bare image); local and other backends are skipped."""
    found = []
    for value in values:
        options = cache_options(value)
        if options["type"] == "registry" and options.get("ref"):
            found.append(options["ref"])
    return found
