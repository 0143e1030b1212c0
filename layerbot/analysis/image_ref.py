"""Image references (``registry:port/path/name:tag@digest``), read the way Docker reads them.

The one image reference type of the engine: ``FROM`` lines, CI ``image:``/``services:``, and the
tags, pushes, pulls and cache sources of CI builds all go through :func:`parse_image`.

It follows Docker's reference grammar and normalisation (distribution/reference,
https://github.com/distribution/reference/blob/main/normalize.go and
https://github.com/distribution/reference/blob/main/reference.go):

- the first path component is a registry when it contains ``.`` or ``:`` (a port), is
  ``localhost``, or has an upper-case letter (a repository path is lower case); otherwise the
  registry is Docker Hub, ``docker.io`` (``index.docker.io`` is its legacy name);
- a Docker Hub name of one component is an official image under ``library/``;
- the tag follows the last ``:`` of the last path component, the digest follows ``@``; no tag
  means ``latest`` when the image is pulled.

So ``golang``, ``library/golang``, ``docker.io/library/golang`` and
``index.docker.io/library/golang:latest`` are one image. Unresolved CI variables
(``$CI_REGISTRY_IMAGE/app:$TAG``) are kept as written and compare as text.
"""

from __future__ import annotations

from functools import lru_cache

from layerbot.analysis.memo import cached_property
from layerbot.analysis.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

DOCKER_HUB = "docker.io"
_LEGACY_DOCKER_HUB = ("index.docker.io", "registry-1.docker.io", "registry.hub.docker.com")
_OFFICIAL = "library/"


class ImageRef(Record):
    """``registry/repository:tag@digest`` split up; ``name`` is the name as written."""

    __slots__ = ("__dict__", "digest", "name", "tag")

    def __init__(self, name: str, tag: str | None, digest: str | None) -> None:
        self.name: Final = name
        self.tag: Final = tag
        self.digest: Final = digest

    @cached_property
    def _split(self) -> tuple[str, str]:
        first, slash, rest = self.name.partition("/")
        is_registry = slash and (
            any(ch in first for ch in ".:") or first == "localhost" or first.lower() != first
        )
        if not is_registry:
            domain, path = DOCKER_HUB, self.name
        else:
            domain, path = (DOCKER_HUB if first in _LEGACY_DOCKER_HUB else first), rest
        if domain == DOCKER_HUB and "/" not in path:
            path = _OFFICIAL + path
        return domain, path

    @property
    def domain(self) -> str:
        """The registry: ``docker.io`` for Docker Hub names, ``registry.example.com:5000``..."""
        return self._split[0]

    @property
    def path(self) -> str:
        """The repository path in its registry: ``library/golang``, ``group/app``."""
        return self._split[1]

    @property
    def canonical_name(self) -> str:
        """``docker.io/library/golang`` for ``golang``: the same for every spelling of an image."""
        return f"{self.domain}/{self.path}"

    @property
    def repository(self) -> str:
        """The familiar name Docker prints: ``golang`` for ``docker.io/library/golang``,
        ``user/app`` for ``docker.io/user/app``, other registries kept."""
        if self.domain != DOCKER_HUB:
            return self.canonical_name
        remainder = self.path.removeprefix(_OFFICIAL)
        return remainder if "/" not in remainder else self.path

    @property
    def official_name(self) -> str | None:
        """``python`` for an official image (``library/python``), also through a registry
        mirror that keeps Docker Hub's paths (``mirror.gcr.io/library/python``); ``None`` for
        any other image."""
        name = self.path.removeprefix(_OFFICIAL)
        return name if self.path.startswith(_OFFICIAL) and "/" not in name else None

    @property
    def short_name(self) -> str:
        """The last path part: ``golang`` for ``docker.io/library/golang``."""
        return self.name.rsplit("/", 1)[-1]

    @property
    def tag_or_latest(self) -> str:
        """The tag a pull of this reference gets (``latest`` when none is written)."""
        return self.tag or "latest"

    @property
    def key(self) -> str:
        """``canonical name:tag`` (``latest`` when none is written): equal for two references
        to the same tag of the same image, however each is spelled."""
        return f"{self.canonical_name}:{self.tag_or_latest}"

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


@lru_cache(maxsize=1024)
def parse_image(reference: str) -> ImageRef:
    """Split ``reference``; a ``:`` in an earlier path component is a registry port, not a tag.

    Kept per reference: every rule asks for each stage's base image, and the one (immutable)
    answer keeps the registry and repository it worked out.
    """
    name, _, digest = reference.partition("@")
    tag = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, _, tag = name.rpartition(":")
    return ImageRef(name=name, tag=tag or None, digest=digest or None)
