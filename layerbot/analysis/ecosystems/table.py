"""The ecosystem table: what layerbot knows about each package manager, as data.

One table answers the questions several rules ask: which files a dependency install reads
(so a fix copies exactly those first), the dependency-only command, where the download cache
lives (for BuildKit cache mounts), what a ``.dockerignore`` should keep out, and which images
carry the ecosystem's toolchain and which small images run what it builds. Recognising the
steps in a ``RUN`` is :mod:`.steps`; finding the files in a build context is
:mod:`.build_context`.

Manifest names follow each tool's documentation: Go modules (go.mod, go.sum), npm
(package.json, package-lock.json, npm-shrinkwrap.json, .npmrc), Yarn (yarn.lock, .yarnrc.yml
and .yarn/releases for Yarn 2+), pnpm (pnpm-lock.yaml, pnpm-workspace.yaml), pip (requirements
files), Poetry (pyproject.toml, poetry.lock), uv (pyproject.toml, uv.lock), PDM
(pyproject.toml, pdm.lock), Pipenv (Pipfile, Pipfile.lock), conda (environment.yml or the file
``-f`` names), Maven (pom.xml, .mvn/, mvnw), Gradle (build and settings scripts,
gradle.properties, gradle/ with the wrapper and version catalog), Cargo (Cargo.toml,
Cargo.lock), Bundler (Gemfile, Gemfile.lock, *.gemspec), Mix (mix.exs, mix.lock), Composer
(composer.json, composer.lock), NuGet/.NET (*.sln, *.csproj, NuGet.config, Directory.*.props,
global.json), Stack (stack.yaml, stack.yaml.lock, package.yaml, *.cabal), sbt (build.sbt,
project/), Dart pub (pubspec.yaml, pubspec.lock), SwiftPM (Package.swift, Package.resolved),
Perl's cpanm and Carton (cpanfile, cpanfile.snapshot), Deno (deno.json, deno.jsonc,
deno.lock, package.json), renv (renv.lock, .Rprofile, renv/activate.R, renv/settings.json),
Cabal (*.cabal, cabal.project, cabal.project.freeze), Julia (Project.toml, Manifest.toml),
opam (*.opam), Shards (shard.yml, shard.lock), Nimble (*.nimble) and Conan (conanfile.txt,
conanfile.py); each entry cites its tool's documentation.
"""

from __future__ import annotations

from layerbot.analysis.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final


class Ecosystem(Record):
    """What layerbot knows about one package manager.

    ``manifests`` are context-relative names or globs, in the order a fix copies them;
    Sub-project manifests (Maven modules, Gradle projects, Cargo workspace members, .NET
    projects of a solution) are found by reading the root manifest, not by listing folders.
    ``manifest_dirs`` are folders the install reads (.mvn, gradle/, .yarn/releases).
    ``install_dirs`` are folders the install writes inside the project, which a later
    ``COPY . .`` would overwrite with the host's copy unless ``.dockerignore`` keeps it out.
    ``store_is_cache`` marks ecosystems whose download cache is also where builds read the
    dependencies from (Go's module cache, ~/.m2, Gradle's caches, Cargo's registry, NuGet's
    packages): a cache mount must then be on every step that uses them.
    ``kept_flags`` and ``kept_options`` (the latter with a value: ``--without dev``) are the
    options of the project's own install that choose what it installs or from where (groups,
    extras, profiles, settings); the dependency-only command carries them, or it would install
    what the image does not (dev dependencies in a lower layer stay in the image, whatever a
    later install removes). ``folder_options`` name the project's folder or its manifest
    (``mvn -f service/pom.xml``): the project is there, and the command keeps them too.
    ``moves_safely`` says whether the install itself can run before the sources arrive
    (Composer's runs scripts and builds the autoloader, so its fix inserts a
    dependency-only install instead of moving the original).
    ``setup_subcommands`` are the tool's subcommands that prepare an install without reading
    the project (``cabal update`` fetches the package index, ``conan profile detect`` writes a
    profile): a fix running the install earlier runs them before it too.
    ``folder_operand`` says the install names the project's folder (or its manifest) as its
    first operand (``conan install ..``, ``opam install ./api``): the project is there.
    ``toolchain_images`` are the image repositories whose toolchain builds the ecosystem's
    projects (what a builder stage starts from, and what should not ship);
    ``runtime_images`` the repositories a built artifact runs on instead, smallest first
    (tags follow the toolchain's version: ``eclipse-temurin:21-jre`` for a JDK 21 build).
    ``offline_flags`` make the install take packages from local files or what is installed
    or cached already, never from the network (``bundle install --local``, ``pip install
    --no-index``): such an install downloads nothing, so a download cache mount holds nothing
    for it. Tools whose offline mode makes the step no dependency step at all (``mvn -o``,
    ``cargo build --offline``) are read where their steps are recognised.
    """

    __slots__ = (
        "cache_dirs",
        "command",
        "dockerignore",
        "folder_operand",
        "folder_options",
        "install_dirs",
        "kept_flags",
        "kept_options",
        "label",
        "manifest_dirs",
        "manifests",
        "markers",
        "moves_safely",
        "name",
        "offline_flags",
        "runtime_images",
        "setup_subcommands",
        "store_is_cache",
        "toolchain_images",
    )

    def __init__(
        self,
        name: str,
        label: str,
        markers: tuple[str, ...],
        manifests: tuple[str, ...],
        command: str,
        cache_dirs: tuple[str, ...],
        dockerignore: tuple[str, ...],
        manifest_dirs: tuple[str, ...] = (),
        install_dirs: tuple[str, ...] = (),
        kept_flags: tuple[str, ...] = (),
        kept_options: tuple[str, ...] = (),
        folder_options: tuple[str, ...] = (),
        moves_safely: bool = True,
        store_is_cache: bool = False,
        toolchain_images: tuple[str, ...] = (),
        runtime_images: tuple[str, ...] = (),
        setup_subcommands: tuple[str, ...] = (),
        folder_operand: bool = False,
        offline_flags: tuple[str, ...] = (),
    ) -> None:
        self.name: Final = name
        self.label: Final = label
        self.markers: Final = markers
        self.manifests: Final = manifests
        self.command: Final = command
        self.cache_dirs: Final = cache_dirs
        self.dockerignore: Final = dockerignore
        self.manifest_dirs: Final = manifest_dirs
        self.install_dirs: Final = install_dirs
        self.kept_flags: Final = kept_flags
        self.kept_options: Final = kept_options
        self.folder_options: Final = folder_options
        self.moves_safely: Final = moves_safely
        self.store_is_cache: Final = store_is_cache
        self.toolchain_images: Final = toolchain_images
        self.runtime_images: Final = runtime_images
        self.setup_subcommands: Final = setup_subcommands
        self.folder_operand: Final = folder_operand
        self.offline_flags: Final = offline_flags


_PYTHON_IGNORES = (
    "**/__pycache__",
    "**/*.py[cod]",
    ".venv",
    "venv",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".tox",
    "*.egg-info",
    "dist",
    "build",
)
# Maven and Gradle build with a JDK: their own images carry one, and so do the JDK images a
# wrapper (mvnw, gradlew) runs on.
_JDK_IMAGES = ("maven", "gradle", "eclipse-temurin", "openjdk", "amazoncorretto")
_NODE_IGNORES = ("**/node_modules", "npm-debug.log*", "yarn-error.log*", "coverage", "dist")

GO = Ecosystem(
    name="go",
    label="Go",
    markers=("go.mod",),
    manifests=("go.mod", "go.sum"),
    command="go mod download",
    cache_dirs=("/go/pkg/mod", "/root/.cache/go-build"),
    dockerignore=("*.test", "*.out"),
    store_is_cache=True,
    toolchain_images=("golang",),
    runtime_images=("gcr.io/distroless/static-debian12", "alpine", "scratch"),
)
# npm docs, "config": `offline` ("no network requests will be done during install").
NPM = Ecosystem(
    name="npm",
    label="npm",
    markers=("package-lock.json", "npm-shrinkwrap.json", "package.json"),
    manifests=("package.json", "package-lock.json", "npm-shrinkwrap.json", ".npmrc"),
    command="npm ci",
    cache_dirs=("/root/.npm",),
    dockerignore=_NODE_IGNORES,
    install_dirs=("node_modules",),
    toolchain_images=("node",),
    runtime_images=("node", "nginx"),
    offline_flags=("--offline",),
)
# Yarn 1 docs, "yarn install": `--offline` runs the install in offline mode (from the
# offline mirror or the cache).
YARN = Ecosystem(
    name="yarn",
    label="Yarn",
    markers=("yarn.lock",),
    manifests=("package.json", "yarn.lock", ".yarnrc.yml", ".yarnrc", ".npmrc"),
    manifest_dirs=(".yarn/releases", ".yarn/plugins", ".yarn/patches"),
    command="yarn install --frozen-lockfile",
    cache_dirs=("/usr/local/share/.cache/yarn",),
    dockerignore=(*_NODE_IGNORES, ".yarn/cache", ".yarn/install-state.gz"),
    install_dirs=("node_modules",),
    toolchain_images=("node",),
    runtime_images=("node", "nginx"),
    offline_flags=("--offline",),
)
# pnpm docs, "pnpm install": `--offline` uses only packages already in the store.
PNPM = Ecosystem(
    name="pnpm",
    label="pnpm",
    markers=("pnpm-lock.yaml",),
    manifests=("package.json", "pnpm-lock.yaml", "pnpm-workspace.yaml", ".npmrc"),
    command="pnpm install --frozen-lockfile",
    cache_dirs=("/root/.local/share/pnpm/store",),
    dockerignore=(*_NODE_IGNORES, ".pnpm-store"),
    install_dirs=("node_modules",),
    toolchain_images=("node",),
    runtime_images=("node", "nginx"),
    offline_flags=("--offline",),
)
# Bun: `bun.lock` (text, Bun 1.2+) or `bun.lockb`; downloads go to ~/.bun/install/cache (Bun
# docs, "bun install": lockfile, "Global cache").
BUN = Ecosystem(
    name="bun",
    label="Bun",
    markers=("bun.lock", "bun.lockb"),
    manifests=("package.json", "bun.lock", "bun.lockb", "bunfig.toml", ".npmrc"),
    command="bun install --frozen-lockfile",
    cache_dirs=("/root/.bun/install/cache",),
    dockerignore=_NODE_IGNORES,
    install_dirs=("node_modules",),
    toolchain_images=("oven/bun",),
    runtime_images=("oven/bun", "nginx"),
)
# pip docs, "pip install": `--no-index` ignores the package index and looks only at the
# `--find-links` locations (offline unless one of them is a URL).
PIP = Ecosystem(
    name="pip",
    label="pip",
    markers=("requirements*.txt",),
    manifests=("requirements*.txt", "requirements/*.txt", "constraints*.txt"),
    command="pip install -r requirements.txt",
    cache_dirs=("/root/.cache/pip",),
    dockerignore=_PYTHON_IGNORES,
    toolchain_images=("python",),
    runtime_images=("python",),
    # pip's `--no-index`; `uv pip install --offline` (uv docs, "--offline": "use only locally
    # cached data and locally available files")
    offline_flags=("--no-index", "--offline"),
)
POETRY = Ecosystem(
    name="poetry",
    label="Poetry",
    markers=("poetry.lock",),
    manifests=("pyproject.toml", "poetry.lock", "poetry.toml"),
    command="poetry install --no-root",
    # Poetry docs, "Commands" (install) and "Managing dependencies" (groups).
    kept_flags=("--all-extras", "--all-groups", "--no-dev", "--no-interaction", "-n", "--no-ansi"),
    kept_options=("--without", "--with", "--only", "-E", "--extras"),
    folder_options=("-C", "--directory", "-P", "--project"),
    # not the whole cache dir: Poetry keeps its virtualenvs in {cache-dir}/virtualenvs
    cache_dirs=("/root/.cache/pypoetry/cache", "/root/.cache/pypoetry/artifacts"),
    dockerignore=_PYTHON_IGNORES,
    toolchain_images=("python",),
    runtime_images=("python",),
)
# uv docs, "CLI reference": `--offline` disables network access (locally cached data and
# local files only).
UV = Ecosystem(
    name="uv",
    label="uv",
    markers=("uv.lock",),
    manifests=("pyproject.toml", "uv.lock", ".python-version"),
    command="uv sync --frozen --no-install-project",
    # uv docs, "Commands" (uv sync) and "Locking and syncing".
    kept_flags=(
        *("--no-dev", "--only-dev", "--all-extras", "--no-default-groups", "--all-groups"),
        *("--all-packages", "--no-editable", "--no-install-workspace"),
    ),
    kept_options=(
        *("--extra", "--no-extra", "--group", "--no-group", "--only-group", "--package"),
        *("--python", "-p"),
    ),
    folder_options=("--directory", "--project"),
    cache_dirs=("/root/.cache/uv",),
    dockerignore=_PYTHON_IGNORES,
    install_dirs=(".venv",),
    toolchain_images=("python", "ghcr.io/astral-sh/uv"),
    runtime_images=("python",),
    offline_flags=("--offline",),
)
PDM = Ecosystem(
    name="pdm",
    label="PDM",
    markers=("pdm.lock",),
    manifests=("pyproject.toml", "pdm.lock", "pdm.toml", ".pdm-python"),
    command="pdm install --no-self",
    # PDM docs, "CLI reference" (pdm install): groups, production only, lock file handling.
    kept_flags=(
        *("--prod", "--production", "--no-default", "-d", "--dev", "--frozen-lockfile"),
        *("--no-lock", "--check", "-g", "--global"),
    ),
    kept_options=("-G", "--group", "-L", "--lockfile"),
    folder_options=("-p", "--project"),
    cache_dirs=("/root/.cache/pdm",),
    dockerignore=(*_PYTHON_IGNORES, "__pypackages__"),
    install_dirs=(".venv", "__pypackages__"),
    toolchain_images=("python",),
    runtime_images=("python",),
)
# conda, mamba and micromamba install an environment from its file (`environment.yml`, or
# the file `-f` names; conda docs, "Managing environments": creating an environment from an
# environment.yml file) and keep the downloads in the package cache, `pkgs` under the
# installation: /opt/conda in the conda, miniforge and micromamba images (conda docs,
# "conda clean").
CONDA = Ecosystem(
    name="conda",
    label="conda",
    markers=("environment.yml", "environment.yaml"),
    manifests=("environment.yml", "environment.yaml", "conda-lock.yml"),
    command="conda env create -f environment.yml",
    cache_dirs=("/opt/conda/pkgs",),
    dockerignore=_PYTHON_IGNORES,
    toolchain_images=(
        *("continuumio/miniconda3", "continuumio/anaconda3", "condaforge/miniforge3"),
        "mambaorg/micromamba",
    ),
    runtime_images=("mambaorg/micromamba",),
)
PIPENV = Ecosystem(
    name="pipenv",
    label="Pipenv",
    markers=("Pipfile",),
    manifests=("Pipfile", "Pipfile.lock"),
    command="pipenv install --deploy",
    cache_dirs=("/root/.cache/pipenv", "/root/.cache/pip"),
    dockerignore=_PYTHON_IGNORES,
    toolchain_images=("python",),
    runtime_images=("python",),
)
MAVEN = Ecosystem(
    name="maven",
    label="Maven",
    markers=("pom.xml",),
    manifests=("pom.xml", "mvnw"),
    manifest_dirs=(".mvn",),
    command="mvn -B dependency:go-offline",
    # Maven docs, "Maven CLI Options Reference".
    kept_options=("-s", "--settings", "-gs", "--global-settings", "-P", "--activate-profiles"),
    folder_options=("-f", "--file"),
    cache_dirs=("/root/.m2",),
    dockerignore=("target", "**/target"),
    store_is_cache=True,
    toolchain_images=_JDK_IMAGES,
    runtime_images=("eclipse-temurin",),
)
GRADLE = Ecosystem(
    name="gradle",
    label="Gradle",
    markers=("build.gradle", "build.gradle.kts", "settings.gradle", "settings.gradle.kts"),
    manifests=(
        "settings.gradle",
        "settings.gradle.kts",
        "build.gradle",
        "build.gradle.kts",
        "gradle.properties",
        "gradlew",
    ),
    manifest_dirs=("gradle", "buildSrc"),
    command="gradle dependencies --no-daemon",
    # Gradle docs, "Command-Line Interface Reference".
    kept_options=("-g", "--gradle-user-home"),
    folder_options=("-p", "--project-dir"),
    cache_dirs=("/root/.gradle/caches",),
    dockerignore=(".gradle", "build", "**/build"),
    store_is_cache=True,
    toolchain_images=_JDK_IMAGES,
    runtime_images=("eclipse-temurin",),
)
CARGO = Ecosystem(
    name="cargo",
    label="Cargo",
    markers=("Cargo.toml",),
    manifests=("Cargo.toml", "Cargo.lock", "rust-toolchain.toml", "rust-toolchain"),
    manifest_dirs=(".cargo",),
    command="cargo fetch",
    cache_dirs=("/usr/local/cargo/registry", "/usr/local/cargo/git"),
    dockerignore=("target", "**/*.rs.bk"),
    store_is_cache=True,
    toolchain_images=("rust",),
    runtime_images=("gcr.io/distroless/cc-debian12", "debian"),
)
# Bundler docs, "bundle install": `--local` does not connect to the gem server and uses the
# gems already in the RubyGems cache or in vendor/cache.
BUNDLER = Ecosystem(
    name="bundler",
    label="Bundler",
    markers=("Gemfile",),
    manifests=("Gemfile", "Gemfile.lock", "*.gemspec", ".ruby-version"),
    command="bundle install",
    cache_dirs=("/usr/local/bundle/cache",),
    dockerignore=("vendor/bundle", ".bundle", "log", "tmp", "coverage"),
    toolchain_images=("ruby",),
    runtime_images=("ruby",),
    offline_flags=("--local",),
)
MIX = Ecosystem(
    name="mix",
    label="Mix (Hex)",
    markers=("mix.exs",),
    manifests=("mix.exs", "mix.lock"),
    command="mix deps.get",
    cache_dirs=("/root/.hex/packages",),
    dockerignore=("_build", "deps", "cover"),
    install_dirs=("deps",),
    toolchain_images=("elixir", "hexpm/elixir"),
    runtime_images=("debian", "alpine"),
    # `mix local.hex` and `mix local.rebar` install Hex and rebar into ~/.mix, not the project
    # (Mix docs, "mix local.hex"); the elixir images ship without Hex, so `mix deps.get` needs
    # the first before it.
    setup_subcommands=("local.hex", "local.rebar"),
)
COMPOSER = Ecosystem(
    name="composer",
    label="Composer",
    markers=("composer.json",),
    manifests=("composer.json", "composer.lock"),
    command="composer install --no-scripts --no-autoloader",
    # Composer docs, "Command-line interface" (install, global options).
    kept_flags=("--no-dev", "--prefer-dist", "--no-interaction", "-n", "--ignore-platform-reqs"),
    kept_options=("--ignore-platform-req",),
    folder_options=("-d", "--working-dir"),
    cache_dirs=("/root/.composer/cache",),
    dockerignore=("vendor", "var/cache", "var/log"),
    install_dirs=("vendor",),
    moves_safely=False,
    toolchain_images=("composer",),
    runtime_images=("php",),
)
DOTNET = Ecosystem(
    name="dotnet",
    label=".NET (NuGet)",
    markers=("*.sln", "*.csproj", "*.fsproj", "*.vbproj"),
    manifests=(
        "*.sln",
        "*.slnx",
        "global.json",
        "NuGet.config",
        "nuget.config",
        "Directory.Build.props",
        "Directory.Packages.props",
        "*.csproj",
        "*.fsproj",
        "*.vbproj",
        "packages.lock.json",
    ),
    command="dotnet restore",
    cache_dirs=("/root/.nuget/packages",),
    dockerignore=("**/bin", "**/obj", "*.user"),
    install_dirs=("obj",),
    store_is_cache=True,
    toolchain_images=("mcr.microsoft.com/dotnet/sdk",),
    runtime_images=("mcr.microsoft.com/dotnet/aspnet", "mcr.microsoft.com/dotnet/runtime"),
)

STACK = Ecosystem(
    name="stack",
    label="Stack (Haskell)",
    markers=("stack.yaml",),
    manifests=("stack.yaml", "stack.yaml.lock", "package.yaml", "*.cabal"),
    command="stack build --only-dependencies",
    # Stack docs, "stack build" and the global options: the same compiler, and the test and
    # benchmark dependencies when the build has them.
    kept_flags=(
        *("--system-ghc", "--no-install-ghc", "--allow-different-user", "--no-nix"),
        *("--test", "--bench"),
    ),
    # the Stack root: the package index and the snapshot packages later builds link against
    cache_dirs=("/root/.stack",),
    dockerignore=(".stack-work", "**/.stack-work", "dist-newstyle"),
    install_dirs=(".stack-work",),
    store_is_cache=True,
    toolchain_images=("haskell", "fpco/stack-build"),
    runtime_images=("debian",),
)

SBT = Ecosystem(
    name="sbt",
    label="sbt (Scala)",
    markers=("build.sbt",),
    # project/ holds the sbt version, the plugins and the build definition; named file by file,
    # as a folder called `project` is the sources in many other projects
    manifests=("build.sbt", "project/build.properties", "project/*.sbt", "project/*.scala"),
    command="sbt update",
    cache_dirs=("/root/.cache/coursier",),
    dockerignore=("target", "**/target", ".bsp", ".metals", ".bloop"),
    store_is_cache=True,
    toolchain_images=("sbtscala/scala-sbt", "hseeberger/scala-sbt"),
    runtime_images=("eclipse-temurin",),
)
PUB = Ecosystem(
    name="pub",
    label="Dart pub",
    markers=("pubspec.yaml",),
    manifests=("pubspec.yaml", "pubspec.lock"),
    command="dart pub get",
    cache_dirs=("/root/.pub-cache",),
    dockerignore=(".dart_tool", "build"),
    install_dirs=(".dart_tool",),
    store_is_cache=True,
    toolchain_images=("dart", "google/dart"),
    runtime_images=("scratch",),
)
SWIFTPM = Ecosystem(
    name="swiftpm",
    label="Swift Package Manager",
    markers=("Package.swift",),
    manifests=("Package.swift", "Package.resolved"),
    command="swift package resolve",
    cache_dirs=("/root/.cache/org.swift.swiftpm",),
    dockerignore=(".build", ".swiftpm"),
    install_dirs=(".build",),  # the resolved checkouts live in .build/checkouts
    toolchain_images=("swift",),
    runtime_images=("swift",),
)
# Perl: `cpanm --installdeps .` installs the dependencies of the distribution in the folder
# "but won't build itself", reading the cpanfile there (cpanm docs, "--installdeps"; `--cpanfile`
# names another file); `carton install` installs the cpanfile's modules, at the versions of
# cpanfile.snapshot with `--deployment`, into `local/` (Carton docs, "carton install"). Both
# download through cpanm, whose work and download folder is ~/.cpanm (cpanm docs, "ENVIRONMENT
# VARIABLES": PERL_CPANM_HOME). A cpanfile is Perl code, but it declares modules and reads no
# other file of the project.
CPANM = Ecosystem(
    name="cpanm",
    label="Perl (cpanm, Carton)",
    markers=("cpanfile",),
    manifests=("cpanfile", "cpanfile.snapshot"),
    command="cpanm --notest --installdeps .",
    # cpanm docs, "OPTIONS": the cpanfile's optional phases and features it installs.
    kept_flags=(
        *("--with-develop", "--with-recommends", "--with-suggests", "--with-all-features"),
        *("--with-configure", "--without-test", "--without-build", "--without-runtime"),
        *("-n", "--notest"),
    ),
    kept_options=("--with-feature", "--without-feature", "--cpanfile"),
    cache_dirs=("/root/.cpanm",),
    dockerignore=("local", ".carton", "blib"),
    install_dirs=("local",),
    toolchain_images=("perl",),
    runtime_images=("perl",),
)
# Deno: `deno install` with no argument installs every dependency the configuration file
# (deno.json/deno.jsonc) and package.json list, into the global cache (and `node_modules` with
# a package.json), since Deno 2.0; `deno install --entrypoint FILE` and `deno cache FILE`
# fetch the dependencies of the files' module graph, so they read the sources (Deno docs,
# "deno install": "If no dependency is specified, installs all dependencies listed in the
# config file"). `--frozen` fails on an out-of-date lockfile (Deno docs, "Modules and
# dependencies": frozen lockfile). The cache is DENO_DIR, which the denoland/deno images set
# to /deno-dir (their Dockerfiles: `ENV DENO_DIR`).
DENO = Ecosystem(
    name="deno",
    label="Deno",
    markers=("deno.json", "deno.jsonc", "deno.lock"),
    manifests=("deno.json", "deno.jsonc", "deno.lock", "package.json"),
    command="deno install",
    kept_flags=("--frozen", "--frozen=true"),
    cache_dirs=("/deno-dir",),
    dockerignore=("**/node_modules",),
    install_dirs=("node_modules",),
    # `deno cache main.ts` needs main.ts: the fix inserts `deno install` instead of moving it
    moves_safely=False,
    toolchain_images=("denoland/deno",),
    runtime_images=("denoland/deno",),
)
# R with renv: `renv::restore()` installs the package versions renv.lock records into the
# project library `renv/library`; the project's `.Rprofile` sources `renv/activate.R`, which
# bootstraps renv and reads `renv/settings.json`. renv's guide "Using renv with Docker"
# copies exactly these four files, restores, then copies the rest
# (<https://rstudio.github.io/renv/articles/docker.html>). No cache folder: renv's package
# cache (~/.cache/R/renv) is linked into the project library by symlinks on Linux (renv docs,
# "Package cache"), so a cache mount there would leave the library's links dangling.
RENV = Ecosystem(
    name="renv",
    label="R (renv)",
    markers=("renv.lock",),
    manifests=("renv.lock", ".Rprofile", "renv/activate.R", "renv/settings.json"),
    command='R -e "renv::restore()"',
    cache_dirs=(),
    dockerignore=("renv/library", "renv/staging", ".Rhistory", ".Rproj.user"),
    install_dirs=("renv/library",),
    toolchain_images=("rocker/r-ver", "r-base"),
    runtime_images=("rocker/r-ver",),
)
# Haskell with Cabal: `cabal build --only-dependencies` (and `cabal install
# --only-dependencies`) builds the dependencies of the project's packages alone; a plain
# `cabal build` or `cabal install` builds them as part of building the project (Cabal docs,
# "cabal build": `--only-dependencies`: <https://cabal.readthedocs.io/en/stable/cabal-commands.html>).
# The project is the *.cabal files, cabal.project (with .local) and the versions `cabal
# freeze` pins in cabal.project.freeze. `cabal update` downloads the package index, which
# the dependency build needs first. No cache folder: the downloads and the index live in
# ~/.cabal/packages or, with cabal 3.10's XDG layout, ~/.cache/cabal/packages (Cabal docs,
# "Configuration": directories), and the index a separate `cabal update` wrote would be
# hidden under a mount.
CABAL = Ecosystem(
    name="cabal",
    label="Cabal (Haskell)",
    markers=("cabal.project", "*.cabal"),
    manifests=("*.cabal", "cabal.project", "cabal.project.freeze", "cabal.project.local"),
    command="cabal build --only-dependencies",
    # Cabal docs, "cabal build" and the project configuration flags: what the build compiles
    # the dependencies for (tests, benchmarks, flags, constraints, optimisation, compiler).
    kept_flags=(
        *("--enable-tests", "--enable-benchmarks", "--disable-tests", "--disable-benchmarks"),
        *("-O0", "-O1", "-O2", "--enable-optimization", "--disable-optimization"),
        *("--enable-executable-static", "--allow-newer", "--allow-older"),
    ),
    kept_options=("-f", "--flags", "--constraint", "-w", "--with-compiler"),
    folder_options=("--project-file",),
    cache_dirs=(),
    dockerignore=("dist-newstyle", "dist", ".ghc.environment.*"),
    setup_subcommands=("update", "user-config"),
    toolchain_images=("haskell",),
    runtime_images=("debian",),
)
# Julia: `Pkg.instantiate()` downloads and installs the packages Manifest.toml records (or
# resolves them from Project.toml without one) for the active project, which `--project`
# (or `Pkg.activate`) names (Pkg docs, "API Reference": `Pkg.instantiate`,
# <https://pkgdocs.julialang.org/v1/api/>; Julia manual, "Command-line interface":
# `--project`). The packages go into the depot (~/.julia), which is also where the
# application loads them from at run time: no cache mount.
JULIA = Ecosystem(
    name="julia",
    label="Julia (Pkg)",
    markers=("Project.toml",),
    manifests=("Project.toml", "Manifest.toml", "JuliaProject.toml", "JuliaManifest.toml"),
    command="julia --project=. -e 'using Pkg; Pkg.instantiate()'",
    cache_dirs=(),
    dockerignore=(),
    toolchain_images=("julia",),
    runtime_images=("julia",),
)
# OCaml with opam: `opam install . --deps-only` installs the dependencies the opam files of
# the folder declare and not the packages themselves (opam manual, "opam install":
# `--deps-only`, and installing from a local folder: <https://opam.ocaml.org/doc/man/opam-install.html>);
# `opam install .` builds and installs the project with them. `opam update`, `opam init`,
# `opam switch`, `opam repository` and `opam option` prepare the package repository and the
# compiler. No cache folder: the
# ocaml/opam images run as the `opam` user with OPAMROOT in its home.
OPAM = Ecosystem(
    name="opam",
    label="opam (OCaml)",
    markers=("*.opam", "opam"),
    manifests=("*.opam", "opam", "*.opam.locked"),
    command="opam install . --deps-only",
    # opam manual, "opam install": the test and doc dependencies, lock files, answers.
    kept_flags=(
        *("--with-test", "-t", "--with-doc", "-d", "--with-dev-setup", "--locked"),
        *("-y", "--yes", "--confirm-level=unsafe-yes"),
    ),
    kept_options=("--lock-suffix",),
    cache_dirs=(),
    dockerignore=("_build", "_opam"),
    setup_subcommands=("update", "init", "switch", "repository", "option"),
    folder_operand=True,
    toolchain_images=("ocaml/opam",),
    runtime_images=("debian", "alpine"),
)
# Crystal with Shards: `shards install` installs the dependencies shard.lock records (resolving
# shard.yml without one) into `lib/`; `shards build` "ensures all dependencies are installed"
# before compiling the targets (shards manual: <https://crystal-lang.org/reference/man/shards/>).
# Shards keeps its clones in SHARDS_CACHE_PATH, ~/.cache/shards by default (shards README,
# "Environment variables"), and copies them into lib/.
SHARDS = Ecosystem(
    name="shards",
    label="Shards (Crystal)",
    markers=("shard.yml",),
    manifests=("shard.yml", "shard.lock", "shard.override.yml"),
    command="shards install",
    # shards manual, "install": production mode, a frozen lock, what it runs.
    kept_flags=(
        *("--production", "--frozen", "--without-development", "--skip-postinstall"),
        *("--skip-executables", "--ignore-crystal-version"),
    ),
    cache_dirs=("/root/.cache/shards",),
    dockerignore=("lib", ".shards"),
    install_dirs=("lib",),
    toolchain_images=("crystallang/crystal", "84codes/crystal"),
    runtime_images=("alpine", "debian"),
)
# Nim with Nimble: `nimble install -d` (`--depsOnly`) installs only the dependencies of the
# package in the folder; `nimble build`, `nimble install` and `nimble run` install the
# missing ones as part of building it (nimble(1): "install [-d, --depsOnly] Installs only
# dependencies of the package"; Nimble README, "Dependencies"). The packages go into
# ~/.nimble (or `nimbledeps` beside the .nimble file), where the compiler reads them: no cache
# mount.
NIMBLE = Ecosystem(
    name="nimble",
    label="Nimble (Nim)",
    markers=("*.nimble",),
    manifests=("*.nimble", "nimble.lock", "nimble.paths"),
    # `-y` answers nimble's prompts, which a build cannot
    command="nimble install -d -y",
    kept_flags=("-l", "--localdeps"),
    cache_dirs=(),
    dockerignore=("nimcache", "nimbledeps"),
    install_dirs=("nimbledeps",),
    setup_subcommands=("refresh",),
    toolchain_images=("nimlang/nim",),
    runtime_images=("alpine", "debian"),
)
# C and C++ with Conan: `conan install <path>` installs (downloads, or builds with `--build`)
# the requirements of the recipe in that folder, conanfile.txt or conanfile.py, and writes
# the generated files (toolchain, dependency files) to the current folder (Conan 1: `-if`
# changes it) or the `--output-folder` (Conan 2); it does not build the project (Conan 2
# docs, "conan install": <https://docs.conan.io/2/reference/commands/install.html>; Conan 1
# docs, "conan install"). Its settings, options, profiles and `--build` policy decide which
# binaries it installs, so a fix moves the command as written or offers none. `conan
# profile` and `conan remote` prepare it. No cache folder: the Conan cache (~/.conan,
# ~/.conan2) is where the build links the libraries from.
CONAN = Ecosystem(
    name="conan",
    label="Conan (C/C++)",
    markers=("conanfile.txt", "conanfile.py"),
    manifests=("conanfile.txt", "conanfile.py", "conan.lock", "conandata.yml"),
    command="conan install .",
    cache_dirs=(),
    dockerignore=("build", "CMakeUserPresets.json"),
    setup_subcommands=("profile", "remote", "config"),
    folder_operand=True,
    toolchain_images=("gcc", "conanio/gcc13", "conanio/clang16"),
    runtime_images=("debian",),
)
ECOSYSTEMS: tuple[Ecosystem, ...] = (
    GO,
    NPM,
    YARN,
    PNPM,
    BUN,
    PIP,
    POETRY,
    UV,
    PDM,
    CONDA,
    PIPENV,
    MAVEN,
    GRADLE,
    CARGO,
    BUNDLER,
    MIX,
    COMPOSER,
    DOTNET,
    STACK,
    SBT,
    PUB,
    SWIFTPM,
    CPANM,
    DENO,
    RENV,
    CABAL,
    JULIA,
    OPAM,
    SHARDS,
    NIMBLE,
    CONAN,
)

COMMON_DOCKERIGNORE = (
    ".git",
    ".gitlab-ci.yml",
    ".idea",
    ".vscode",
    "**/.DS_Store",
    "*.log",
    ".env",
    ".env.*",
    "!.env.example",
)


def built_with(image_repository: str) -> tuple[Ecosystem, ...]:
    """The ecosystems whose toolchain an image repository carries (``golang``: Go; a JDK
    image: Maven and Gradle), for the rules that ask whether a stage is a build toolchain."""
    return tuple(e for e in ECOSYSTEMS if image_repository in e.toolchain_images)


def by_name(name: str) -> Ecosystem:
    for ecosystem in ECOSYSTEMS:
        if ecosystem.name == name:
            return ecosystem
    raise KeyError(name)


# --- download caches -----------------------------------------------------------------------------


# Official images that move a cache: gradle sets GRADLE_USER_HOME=/home/gradle/.gradle and
# composer sets COMPOSER_HOME=/tmp (so its cache is /tmp/cache).
_IMAGE_CACHE_DIRS = {
    ("gradle", "gradle"): ("/home/gradle/.gradle/caches",),
    ("composer", "composer"): ("/tmp/cache",),
}

# Environment variables that relocate a package cache: with one set, we cannot name the folder.
CACHE_RELOCATING_VARIABLES = frozenset(
    {
        "HOME",
        "XDG_CACHE_HOME",
        "GOPATH",
        "GOMODCACHE",
        "GOCACHE",
        "npm_config_cache",
        "NPM_CONFIG_CACHE",
        "YARN_CACHE_FOLDER",
        "PNPM_HOME",
        "PIP_CACHE_DIR",
        "POETRY_CACHE_DIR",
        "UV_CACHE_DIR",
        "PIPENV_CACHE_DIR",
        "MAVEN_OPTS",
        "GRADLE_USER_HOME",
        "CARGO_HOME",
        "GEM_HOME",
        "BUNDLE_PATH",
        "COMPOSER_HOME",
        "COMPOSER_CACHE_DIR",
        "NUGET_PACKAGES",
        "PERL_CPANM_HOME",
        "DENO_DIR",
        "SHARDS_CACHE_PATH",
    }
)


def cache_dirs(ecosystem: Ecosystem, image_repository: str = "") -> tuple[str, ...]:
    """Where the ecosystem keeps downloads, for a build running as root in this base image."""
    return _IMAGE_CACHE_DIRS.get((ecosystem.name, image_repository), ecosystem.cache_dirs)
