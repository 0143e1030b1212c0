"""What layerbot knows about toolchain images, runtime images and build tools.

The multi-stage rule asks three questions of a base image: is it a build toolchain (an SDK
that should not ship), which small runtime image replaces it, and roughly how big each one is.
The sizes are an approximate table, not a measurement: rounded uncompressed ``linux/amd64``
sizes as ``docker image ls`` shows them for recent tags. Tags move and variants differ, so a
figure is a size class ("hundreds of MB" versus "a few MB") and every message says so.
"""

from __future__ import annotations

import re
from enum import StrEnum

from layerbot.analysis.image_ref import ImageRef, parse_image


class Toolchain(StrEnum):
    GO = "go"
    RUST = "rust"
    MAVEN = "maven"
    GRADLE = "gradle"
    JDK = "jdk"
    DOTNET = "dotnet"
    NODE = "node"
    PYTHON = "python"
    BUN = "bun"
    ELIXIR = "elixir"
    SBT = "sbt"
    CLOJURE = "clojure"
    HASKELL = "haskell"
    DART = "dart"
    SWIFT = "swift"
    CRYSTAL = "crystal"
    NIM = "nim"
    OCAML = "ocaml"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Toolchain.GO: "Go toolchain image",
    Toolchain.RUST: "Rust toolchain image",
    Toolchain.MAVEN: "Maven image with a full JDK",
    Toolchain.GRADLE: "Gradle image with a full JDK",
    Toolchain.JDK: "full JDK image",
    Toolchain.DOTNET: ".NET SDK image",
    Toolchain.NODE: "Node.js image that runs the build",
    Toolchain.PYTHON: "full Python image with gcc and headers",
    Toolchain.BUN: "Bun image that runs the build",
    Toolchain.ELIXIR: "full Elixir image with Erlang/OTP and the compilers",
    Toolchain.SBT: "Scala sbt image with a full JDK",
    Toolchain.CLOJURE: "Clojure image with a full JDK and its build tools",
    Toolchain.HASKELL: "Haskell toolchain image (GHC, Stack, Cabal)",
    Toolchain.DART: "Dart SDK image",
    Toolchain.SWIFT: "Swift toolchain image",
    Toolchain.CRYSTAL: "Crystal compiler image",
    Toolchain.NIM: "Nim compiler image",
    Toolchain.OCAML: "toolchain image with OCaml, opam and dune",
}
# The JVM toolchains: their artifact is a jar that a JRE runs.
JVM_TOOLCHAINS = (
    Toolchain.MAVEN,
    Toolchain.GRADLE,
    Toolchain.JDK,
    Toolchain.SBT,
    Toolchain.CLOJURE,
)
# sbt images whose tag starts with the JDK version (`17.0.2_1.6.2_3.1.3`, `8u222_1.3.5_2.13.1`).
_SBT_IMAGES = ("sbtscala/scala-sbt", "hseeberger/scala-sbt")

_REPOSITORIES = {
    "golang": Toolchain.GO,
    "rust": Toolchain.RUST,
    "maven": Toolchain.MAVEN,
    "gradle": Toolchain.GRADLE,
    "openjdk": Toolchain.JDK,
    "eclipse-temurin": Toolchain.JDK,
    "amazoncorretto": Toolchain.JDK,
    "mcr.microsoft.com/dotnet/sdk": Toolchain.DOTNET,
    "node": Toolchain.NODE,
    "python": Toolchain.PYTHON,
    "oven/bun": Toolchain.BUN,
    "elixir": Toolchain.ELIXIR,
    "hexpm/elixir": Toolchain.ELIXIR,
    "sbtscala/scala-sbt": Toolchain.SBT,
    "hseeberger/scala-sbt": Toolchain.SBT,
    "clojure": Toolchain.CLOJURE,
    "gfredericks/leiningen": Toolchain.CLOJURE,
    "haskell": Toolchain.HASKELL,
    "fpco/stack-build": Toolchain.HASKELL,
    "dart": Toolchain.DART,
    "google/dart": Toolchain.DART,
    "swift": Toolchain.SWIFT,
    "vapor/swift": Toolchain.SWIFT,
    # Compilers to native executables: `crystal build` (Crystal docs, "Using the compiler"),
    # `nim c` and `nimble build` (Nim docs, "Nim Compiler User Guide"; Nimble docs), `dune
    # build` (Dune docs, "Quickstart": native executables). R (`rocker/*`) has no compiled
    # artifact to ship apart from the interpreter and its library, so it is not here.
    "crystallang/crystal": Toolchain.CRYSTAL,
    "nimlang/nim": Toolchain.NIM,
    "ocaml/opam": Toolchain.OCAML,
}

# Working directories official images set (``WORKDIR`` in their Dockerfiles); others start at
# ``/``. The php image sets one only in its web-server variants (apache, fpm), not in cli.
_IMAGE_WORKDIRS = {"golang": "/go", "composer": "/app", "oven/bun": "/home/bun/app"}
# Images whose Dockerfiles end with a ``USER`` of their own, so a stage from them runs as that
# user: ``mambauser`` (micromamba-docker's README) and ``jovyan`` (Jupyter Docker Stacks).
_NON_ROOT_IMAGES = ("mambaorg/micromamba", "jupyter/", "quay.io/jupyter/")
_PHP_SERVER_VARIANTS = ("apache", "fpm")

# Pinned runtime images the fixes propose.
ALPINE = "alpine:3.22"
DISTROLESS_STATIC = "gcr.io/distroless/static-debian12"
DEFAULT_DEBIAN_SUITE = "bookworm"
DEBIAN_SUITES = ("bookworm", "bullseye", "trixie", "buster")


def repository_key(image: ImageRef) -> str:
    """``golang`` for ``golang``, ``docker.io/library/golang`` and mirrors ending in it."""
    repository = image.repository
    if repository in _REPOSITORIES or repository in _SIZES_MB:
        return repository
    return image.official_name or repository


def runs_as_root(repository: str) -> bool:
    """Whether a stage from the image ``repository`` runs as root before any ``USER``."""
    return not any(
        repository == name or (name.endswith("/") and repository.startswith(name))
        for name in _NON_ROOT_IMAGES
    )


def image_workdir(image: ImageRef) -> str:
    """The directory a stage starting from ``image`` works in before any ``WORKDIR``."""
    key = repository_key(image)
    if key == "php":
        server = any(variant in (image.tag or "apache") for variant in _PHP_SERVER_VARIANTS)
        return "/var/www/html" if server else "/"
    return _IMAGE_WORKDIRS.get(key, "/")


def is_slim_variant(image: ImageRef) -> bool:
    tag = image.tag or ""
    return "slim" in tag or "alpine" in tag


def is_alpine(image: ImageRef) -> bool:
    return "alpine" in (image.tag or "")


def is_jre(image: ImageRef) -> bool:
    return "jre" in (image.tag or "")


def toolchain_of(image: ImageRef) -> Toolchain | None:
    """The toolchain an image carries; Node and Python count only in the cases the rule sees.

    A JRE image runs Java but cannot compile it; slim and alpine Python images carry no
    compiler, the full ``python`` image is built on ``buildpack-deps`` and does.
    """
    toolchain = _REPOSITORIES.get(repository_key(image))
    if toolchain is Toolchain.JDK and is_jre(image):
        return None
    if toolchain in (Toolchain.PYTHON, Toolchain.SWIFT) and is_slim_variant(image):
        return None  # `swift:5.10-slim` carries the runtime libraries, not the compiler
    return toolchain


def debian_suite(image: ImageRef) -> str | None:
    tag = image.tag or ""
    return next((suite for suite in DEBIAN_SUITES if suite in tag), None)


# Java images only: kept as text, ``re`` compiles it when first used.
_JAVA_IN_TAG = r"(?:temurin|jdk|openjdk|corretto|graalvm|sapmachine|zulu)-?(\d+)"


def java_version_of(image: ImageRef) -> str | None:
    """``21`` from ``maven:3.9-eclipse-temurin-21``, ``gradle:8-jdk21`` or ``openjdk:21``."""
    tag = image.tag or ""
    match = re.search(_JAVA_IN_TAG, tag)
    if match:
        return match.group(1)
    if repository_key(image) in {"openjdk", "eclipse-temurin", "amazoncorretto", *_SBT_IMAGES}:
        leading = re.match(r"(\d+)", tag)
        return leading.group(1) if leading else None
    return None


def dotnet_version_of(image: ImageRef) -> str | None:
    """``8.0`` from ``mcr.microsoft.com/dotnet/sdk:8.0-alpine``."""
    match = re.match(r"(\d+\.\d+)", image.tag or "")
    return match.group(1) if match else None


def major_version_of(image: ImageRef) -> str | None:
    """``20`` from ``node:20.11-alpine``; ``None`` for ``latest``, ``lts`` and the like."""
    match = re.match(r"(\d+)", image.tag or "")
    return match.group(1) if match else None


def suggested_runtime(toolchain: Toolchain, image: ImageRef) -> str:
    """The runtime image a message suggests when no fix works out the exact one."""
    major = major_version_of(image)
    if toolchain is Toolchain.GO:
        return ALPINE
    if toolchain is Toolchain.RUST:
        return f"debian:{debian_suite(image) or DEFAULT_DEBIAN_SUITE}-slim"
    if toolchain in JVM_TOOLCHAINS:
        return f"eclipse-temurin:{java_version_of(image) or 21}-jre"
    if toolchain in (Toolchain.HASKELL, Toolchain.CRYSTAL, Toolchain.NIM, Toolchain.OCAML):
        # executables linked against the C library (and libgmp, libgc, libpcre...)
        if is_alpine(image):
            return ALPINE
        return f"debian:{debian_suite(image) or DEFAULT_DEBIAN_SUITE}-slim"
    if toolchain is Toolchain.DART:  # the dart image's /runtime/ holds what an AOT binary needs
        return "scratch"
    if toolchain is Toolchain.SWIFT:  # the slim variant of the same release: its runtime libraries
        release = (image.tag or "").split("-")[0] if major else None
        return f"swift:{release}-slim" if release else "swift:slim"
    if toolchain is Toolchain.DOTNET:
        return f"mcr.microsoft.com/dotnet/aspnet:{dotnet_version_of(image) or '8.0'}"
    if toolchain is Toolchain.ELIXIR:
        # A release carries the Erlang runtime; it needs the C library it was built against.
        return (
            ALPINE
            if is_alpine(image)
            else f"debian:{debian_suite(image) or DEFAULT_DEBIAN_SUITE}-slim"
        )
    version = (image.tag or "").split("-")[0] if major else None
    variant = "alpine" if is_alpine(image) else "slim"
    return f"{image.repository}:{version}-{variant}" if version else f"{image.repository}:{variant}"


# Approximate uncompressed sizes in MB: (repository, variant) where variant is "", "slim",
# "alpine" or "jre". Rounded; a size class, not a measurement.
_SIZES_MB: dict[str, dict[str, int]] = {
    "golang": {"": 850, "alpine": 250},
    "rust": {"": 1500, "slim": 800, "alpine": 850},
    "maven": {"": 500, "alpine": 350},
    "gradle": {"": 700, "alpine": 550},
    "openjdk": {"": 500, "slim": 420, "jre": 270},
    "eclipse-temurin": {"": 450, "alpine": 350, "jre": 270},
    "amazoncorretto": {"": 450, "alpine": 300, "jre": 200},
    "mcr.microsoft.com/dotnet/sdk": {"": 850, "alpine": 700},
    "mcr.microsoft.com/dotnet/aspnet": {"": 220, "alpine": 110},
    "mcr.microsoft.com/dotnet/runtime": {"": 190, "alpine": 85},
    "node": {"": 1100, "slim": 220, "alpine": 160},
    "python": {"": 1000, "slim": 150, "alpine": 55},
    "elixir": {"": 1500, "slim": 450, "alpine": 130},
    "alpine": {"": 8},
    "debian": {"": 120, "slim": 75},
    "ubuntu": {"": 80},
    DISTROLESS_STATIC: {"": 2},
    "gcr.io/distroless/base-debian12": {"": 20},
    "gcr.io/distroless/cc-debian12": {"": 25},
}

# Approximate installed size in MB of build tools a final stage should not keep, by the names
# ``build_tool`` gives them (compilers, and SDKs installed with the OS package manager).
BUILD_TOOL_SIZES_MB = {
    "dotnet-sdk": 500,
    "openjdk-jdk": 300,
    "default-jdk": 300,
    "golang": 400,
    "go": 400,
    "rustc": 300,
    "cargo": 50,
    "maven": 10,
    "gradle": 150,
    "build-essential": 250,
    "build-base": 200,
    # Alpine's meta package for building packages: build-base (gcc, g++, make), abuild, git
    "alpine-sdk": 250,
    "gcc": 120,
    "g++": 150,
    "gcc-c++": 150,
    "clang": 300,
    "llvm": 250,
    "cmake": 40,
    "make": 2,
    "autoconf": 3,
    "automake": 2,
    "libtool": 2,
}
# yum/dnf group that installs the compilers.
BUILD_TOOL_GROUPS = ("development tools", "@development-tools")
_PINNED = re.compile(r"[=:].*$")
_VERSIONED_TOOLS = (
    (re.compile(r"^dotnet-sdk-\d+(?:\.\d+)*$"), "dotnet-sdk"),
    (re.compile(r"^(?:java-\d+-openjdk-devel|openjdk-?\d*-?jdk(?:-headless)?)$"), "openjdk-jdk"),
    (re.compile(r"^golang(?:-\d+(?:\.\d+)*)?(?:-go)?$"), "golang"),
    (re.compile(r"^(gcc|g\+\+|clang|llvm)-\d+(?:\.\d+)*$"), r"\1"),
)


def build_tool(package: str) -> str | None:
    """The table's name for a package that is a build tool (``gcc`` for ``gcc-12`` or
    ``gcc=12.2.0-r10``, ``dotnet-sdk`` for ``dotnet-sdk-8.0``), ``None`` for other packages."""
    name = _PINNED.sub("", package.lower())
    if name in BUILD_TOOL_GROUPS:
        return name
    for pattern, replacement in _VERSIONED_TOOLS:
        if pattern.match(name):
            name = pattern.sub(replacement, name)
            break
    return name if name in BUILD_TOOL_SIZES_MB else None


def _variant(image: ImageRef) -> str:
    tag = image.tag or ""
    for variant in ("jre", "alpine", "slim"):
        if variant in tag:
            return variant
    return ""


def approximate_size_mb(image: ImageRef) -> int | None:
    """The table's size for this image and variant, ``None`` for images the table lacks."""
    sizes = _SIZES_MB.get(repository_key(image))
    if sizes is None:
        return None
    return sizes.get(_variant(image), sizes[""])


def format_size(megabytes: int) -> str:
    """``≈ 850 MB``, ``≈ 1.5 GB``."""
    if megabytes >= 1000:
        return f"≈ {megabytes / 1000:.1f} GB"
    return f"≈ {megabytes} MB"


def describe(image: ImageRef | str) -> str:
    """`` `golang:1.22` ≈ 850 MB`` or just the name when the table does not know it."""
    ref = parse_image(image) if isinstance(image, str) else image
    size = approximate_size_mb(ref)
    return f"`{ref}` {format_size(size)}" if size is not None else f"`{ref}`"


def size_change(before: ImageRef, after: str) -> str:
    """What replacing the final image's base saves, from the table."""
    sizes = approximate_size_mb(before), approximate_size_mb(parse_image(after))
    if sizes == (None, None):  # an image the table lacks (`oven/bun`): names only
        return (
            f"the base image stays `{after}`" if str(before) == after else f"`{before}` → `{after}`"
        )
    if sizes[0] == sizes[1]:
        return f"the base image stays {describe(after)} (approximate uncompressed size)"
    return f"{describe(before)} → {describe(after)} (approximate uncompressed image sizes)"
