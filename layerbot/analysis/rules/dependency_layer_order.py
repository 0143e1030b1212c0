"""Dependencies are downloaded after the sources were copied.

## What it does
Flags the first step of a stage that downloads a package manager's dependencies after the
project's sources arrived, when no step of that package manager ran on the manifests alone
before them. Three kinds of step count:

- an explicit install (`go mod download`, `npm ci`/`npm install`, `yarn`, `pnpm install`, `bun
  install`, `pip install -r`, `pipenv install`, `pdm install --no-self`, `stack build
  --only-dependencies`, `sbt update`, `dart pub get`, `swift package resolve`, `bundle
  install`, `composer install`, `mix deps.get`, `dotnet restore`, `cargo fetch`, `mvn
  dependency:go-offline`, `gradle dependencies`, `cpanm --installdeps .`, `carton install`,
  `deno install`, and `deno cache main.ts`/`deno install --entrypoint main.ts`, which fetch
  the graph of the files they name: `COPY deps.ts .` then `deno cache deps.ts` is the
  dependency step; `R -e "renv::restore()"`/`Rscript -e …`, `cabal build|install
  --only-dependencies`, `julia --project -e 'using Pkg; Pkg.instantiate()'`, `opam install .
  --deps-only`, `shards install`, `nimble install -d`, `conan install .`/`conan install ..`)
  after a copy of the whole project: `COPY . .`,
  `COPY . /app`, `ADD . …`, or a folder copied as the project (`COPY services/api ./`, `COPY
  frontend/ ./`);
- a build that downloads as a side effect (`go build|install|run|test|generate|get`, `go mod
  tidy|vendor`, `mix do deps.get, compile`, `mvn package|install|verify|compile` (a lifecycle
  phase or a goal that builds or runs the project: `spring-boot:run`, `jib:build`; not
  `install:install-file` or `help:evaluate`), `./mvnw …`, `gradle build`, `./gradlew
  build|assemble|bootJar` (the wrapper download counts too), `cargo build`, `cargo install
  --path`, `dotnet build|publish`, `poetry install`, `uv sync`, `pdm install`, `stack
  build|install|test`, `sbt compile|test|package|assembly|stage`, `swift build|test|run`, `pip
  install .`, `python setup.py install|develop`, `cpanm .`, `cabal build|install|test|run`,
  `opam install .`, `shards build`, `nimble build|install|run|test`) after any copy into the project
  (`COPY src ./src` counts) or with the sources bind-mounted (`RUN --mount=type=bind`);
- a `make <target>` whose recipe in the project's Makefile runs one of those builds
  (`make build` running `go build`): the Makefile's targets, prerequisites, `$(MAKE)
  <target>` calls, `%` pattern rules and simple variables are followed.

A `pip install -r` whose requirement files name packages only (no `-e`, local path or
`file:` URL) reads nothing else, so a source folder copied into the project before it
(`COPY src ./src`) counts as the sources too; a `dotnet restore` naming a project in a
sub-folder (`dotnet restore Api/Api.csproj`) is after the sources when that project's folder
was copied whole.

The message names the command that fetches. The project a command works on is found from
`WORKDIR` (or the one the base image sets: `/var/www/html` in the `php` apache and fpm
images, `/app` in `composer`, `/go` in `golang`), a leading `cd` and the copies that filled
that folder, with the variables the stage's `ENV` and `ARG` defaults set (`WORKDIR
$APP_HOME`, `COPY . $APP_HOME`, `pip install -r $APP_HOME/requirements.txt`); Go, Cargo and
Gradle also look for their manifest in the parent folders, as the tools do. A step of the
same package manager earlier in the stage, in a stage it is built `FROM`, or dependencies
copied in with `COPY --from` (`node_modules`, `/go/pkg/mod`, `/usr/local/bundle`) mean the
dependencies are prepared. Sources copied in a stage this one is built `FROM` (`COPY . .` in
`base`, then `FROM base AS build` and `go build`) are under its steps too: one finding for that
copy, however many stages build on it, and no automatic fix (it would edit the parent stage
and its children together).

Not flagged:
- builds that cannot download: vendored Go modules (`vendor/modules.txt`, `-mod=vendor`,
  `GOFLAGS=-mod=vendor`), a Go module without `go.sum`, GOPATH mode (no `go.mod`: there is
  no manifest to cache from), `mvn -o`, `gradle --offline`, `cargo --offline|--frozen`,
  `dotnet … --no-restore`, `go install tool@version` (a module of its own), a `make`
  target whose recipe runs no package manager (or a Go build with `-mod=vendor`);
- a Deno project with no deno.json, deno.jsonc or deno.lock: its modules are imported by URL
  in the sources, and nothing declares them to install first;
- installing named packages (`npm install puppeteer@22`, `pnpm install sharp`, `stack
  install alex happy`, `cabal install alex happy`, `opam install dune`, `nimble install
  jester`, `conan install zlib/1.3@` or `--requires`): a tool, not the project's manifests, so
  it neither counts as the project's install nor prepares it;
- a folder that holds dependency manifests only, no other file and no folder (`ADD conan
  /src/conan` of a folder kept for the Conan recipe, then `conan install /src/conan`): it
  brings no sources;
- `Pkg.instantiate()` without a project (`--project` or `Pkg.activate`): it instantiates the
  default environment, not the project's;
- the cargo-chef planner: `COPY . .` before `cargo chef prepare` is intended, and
  `cargo chef cook` from the recipe is the dependency build;
- a build whose `RUN` has a cache mount on the package manager's download cache
  (`--mount=type=cache,target=/go/pkg/mod`, `/root/.m2`, `/usr/local/cargo/registry`…): the
  build re-runs on every source change anyway and its downloads then come from the mount.
  An explicit install under a cache mount is still flagged: it would not need to re-run at all;
- a narrower copy before an explicit install (`COPY prisma ./prisma`, a patches folder): it
  is usually something the install needs.
- a package manager's own folder copied with the manifests (`COPY package.json yarn.lock
  .yarnrc.yml .yarn ./`): Yarn's `.yarn` holds its release, plugins, patches and offline
  cache, none of the project's sources, like `.mvn` and the Gradle wrapper's `gradle/`.

A build command is flagged only when the project declares dependencies (a Go module with a
`go.sum`, a lock file or manifest for the others; for `pip install .`, `.[extra]` or `python
setup.py install`, dependencies in the project's metadata: `[project] dependencies` or dynamic
ones in `pyproject.toml`, Poetry's, `install_requires` in `setup.cfg` or `setup.py`). pip has
no dependency-only install from that metadata, so without a requirements file the finding says
to pin the dependencies in one installed first and has no automatic fix; with one, the
inserted `pip install -r` is **review** unless the metadata reads that file (setuptools'
dynamic dependencies), since it may list packages the project does not declare (test tools)
and the image would get them too.

An install that never uses the network (`bundle install --local`, `npm ci --offline`, `pip
install --no-index`, the ecosystem table's `offline_flags`) is still flagged: on every source
change it installs everything again (from vendor/cache, local wheels or what is cached or
installed already). The message then says it installs, not that it downloads, and the
dependency-only command keeps the flag.

## Why it matters
Docker caches a `COPY` on the checksum of the files it copies, and once a step is invalidated
every later step of the stage runs again. After `COPY . .` any edit to any source file
invalidates the copy, so the dependency download below it runs on every build, although the
dependencies only change when the manifests do. A build command that fetches its own
dependencies (`go build`, `mvn package`, `dotnet publish`) is the same problem: it must re-run
when the code changes, but the download in it should not. Copying the manifest and lock files
first, downloading, and only then copying the rest keeps the slow download in a layer that a
code-only change does not touch. In CI, with `--cache-from` or a registry cache, this is the
difference between reusing the dependency layer and downloading everything each time.

## Example
```dockerfile
FROM golang:1.22
WORKDIR /app
COPY go.mod go.sum ./
COPY . .
RUN go build -o /main .
```

## Use instead
```dockerfile
FROM golang:1.22
WORKDIR /app
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -o /main .
```

The fix copies the manifests that exist (into the folder the project lands in, from the
sub-folder it comes from) and runs the package manager's dependency-only command before the
copy that brought the sources; manifests an earlier `COPY` already put there are not copied
again, so the half-done shape above only gets the download. An explicit install that reads
nothing but the manifests moves above the copy with its text, flags, set-up commands and
the clean-up of its cache (`npm cache clean --force`, `conda clean --all`), an environment
file a conda install names (`conda env create -f environment.yml`, `micromamba install -f
env.yaml`) copied as its manifest; when it is the first command of a
longer `RUN` (`npm ci && npm run build`) it moves out of that `RUN`, which keeps the rest. A
build keeps its place and the fix inserts the dependency-only command: `go mod download`,
`mvn -B dependency:go-offline` (`./mvnw -B …` with the wrapper), `gradle dependencies`
(`./gradlew dependencies`), for Cargo the dummy-main pattern (placeholder `src/main.rs`/
`src/lib.rs`, since a manifest without targets does not parse, the same `cargo build` options,
then `cargo clean -p` of the project's own packages so the real sources are rebuilt and not
taken for up to date; `cargo fetch` for other Cargo commands), `dotnet restore`
of the solution or project, `poetry install --no-root`, `uv sync --no-install-project`,
`pdm install --no-self` (keeping `--prod`, `--frozen-lockfile` and the like), `stack build
--only-dependencies` (keeping `--system-ghc`, `--test` and the like), `sbt update`
(with `build.sbt` and the build files of `project/`), `swift package resolve`,
`npm ci`, `mix deps.get`, `cpanm --installdeps .` (with the cpanfile `--cpanfile` names),
`deno install` (Deno 2 and later only: it does not exist on a `denoland/deno:1.x` image, and
it installs only what deno.json's `imports` or package.json list, so a project importing by
URL from its sources gets the finding without a fix), `cabal build --only-dependencies`
(after the RUN's own `cabal update`, keeping `-O2`, `--enable-tests`, `-f` flags and
constraints), `opam install . --deps-only` (keeping `--with-test`, `--with-doc`, `-y`),
`nimble install -d -y`. The renv restore (with renv.lock, .Rprofile, renv/activate.R and
renv/settings.json), Julia's instantiate (Project.toml, Manifest.toml), `shards install`
(shard.yml, shard.lock) and `conan install` (conanfile.txt or conanfile.py) move as written:
each is already its tool's dependency-only install. A `conan install` names its folder (`..`)
and writes its generated files where it runs (or `--output-folder`), with settings, options,
profiles and a `--build` policy that choose the binaries: it gets a fix only when it can run
as written in the same folder before the sources (not in a folder a `WORKDIR` or `cd` after
the copy enters), and none when it reads a profile or lock file of the project
(`--profile=profiles/ci`). Composer always gets `composer install
--no-scripts --no-autoloader` inserted, because its install runs scripts and builds the
autoloader from the sources; a .NET build gets `--no-restore`, the restore being done
(unless it names a runtime identifier, which the restore would need too).

The inserted command carries the build's options that choose what it installs or from where:
Poetry's `--without`/`--with`/`--only` groups and extras, uv's `--no-dev`, extras and groups,
Maven's profiles and settings files, Gradle's user home, Composer's `--no-dev`, PDM's groups
and `--prod`, Stack's compiler and test flags. Without them
the dependency-only install would put, say, the dev group into a lower layer, and a later
install leaving it out does not take it out of the image (layers only add). A project named
by an option (`mvn -f service/pom.xml`, `gradle -p api`, `poetry -C backend`, `uv
--directory`, `composer -d`) is that folder's: its manifests are copied there and the
inserted command names it the same way. A Gradle project's build is the one whose settings
file is the nearest up from its folder, so that settings file is copied too.

The fix is one contiguous edit from the copy through the dependency `RUN`, so it can be
applied as a single merge-request suggestion. It copies only manifests that exist in the
build context and are not excluded by `.dockerignore`; with no manifest to copy there is a
finding and no fix. There is no fix either when the sources are bind-mounted into the
fetching `RUN`. cargo-chef (`cargo chef cook`) is the sturdier alternative for Cargo.

## Fix safety
The fix is **safe** when the dependency step reads nothing but the manifests and the build
ends with the same files: the manifests are copied again by the sources copy, so the final
filesystem is unchanged, and a moved `RUN` keeps its text, flags and set-up commands
(`export`, `corepack enable`, `pip install poetry`, `<tool> config`). `ENV`, `ARG`, `LABEL`
and `EXPOSE` between the copy and the install move above the manifest copy. The fix is
marked **review** when that cannot be promised:

- the moved install writes into the project (`node_modules`, uv's `.venv`, `obj`, `deps`)
  and no `.dockerignore` keeps the host's copy of that folder out: `COPY . .` would now
  overwrite the freshly installed folder (the `dockerignore` rule proposes the file);
- the moved install may read sources that are not there yet: `package.json` has
  `preinstall`/`install`/`postinstall`/`prepare` scripts, the Gemfile uses `gemspec` or
  local `path:` gems, the Pipfile installs the project itself;
- a `USER` or `RUN`, or a `COPY`/`ADD` of a manifest or from another stage, sits between
  the copy and the install (the inserted download runs before it, as root, without what it
  prepares: `mix local.hex`, `chmod +x gradlew`, a late `.npmrc`); more source folders
  copied there (`COPY cmd ./cmd`, `COPY internal ./internal`) are no hazard;
- a multi-module Maven build (`dependency:go-offline` cannot resolve sibling modules before
  they are built);
- Cargo's placeholder build (a build script, benches or examples the manifest names are not
  there yet);
- a Julia project that is a package (`uuid` in Project.toml): Pkg precompiles the project
  with its dependencies, and its sources are not there yet;
- a `conan install` of a conanfile.py (Python that may read other project files), or one
  writing its generated files into a folder of the project that `.dockerignore` does not
  keep out (the sources copy would replace them with a local build's).

There is no fix when the install reads more of the project than its manifests, since the
inserted install would fail without it; the message names what it reads: a local package
(`"shared": "file:../shared"` in package.json, `path = "libs/core"` in pyproject.toml, a
Composer `path` repository, `-e ./lib` in a requirements file, a `replace` of a Go module by a
folder, a gem's `path:`), the files a Gemfile's `gemspec` loads (`require_relative
"lib/app/version"`), uv workspace members, the packages a cabal.project names besides its
own folder (`packages: server/ common/`), or the manifests of Node and Cargo workspace
members named by a pattern (`packages/*`, in package.json, pnpm-workspace.yaml or Cargo.toml:
listing them would mean walking the repository, and one `COPY packages/*/package.json` puts
every file into one folder).
Workspaces named by their folder (`"workspaces": ["api", "web"]`) have their `package.json`
copied with the manifests.

## References
- Offline installs: Bundler docs, "bundle install" (`--local`); npm docs, "config"
  (`offline`); Yarn 1 docs, "yarn install" (`--offline`); pnpm docs, "pnpm install"
  (`--offline`); pip docs, "pip install" (`--no-index`); uv docs, "CLI reference" (`--offline`).
- Docker docs, "Dockerfile reference": "Environment replacement" (`ENV` and `ARG` values
  are substituted in `WORKDIR`, `COPY` and `ADD`; `ENV` is in the environment of `RUN`).
- Docker docs, "Build cache invalidation": `COPY`/`ADD` are invalidated by file checksums,
  `RUN --mount=type=bind` by the mounted files, and all later steps re-run.
- Docker docs, "Multi-stage builds: Use a previous stage as a new stage" (`FROM <stage>`
  starts from that stage's file system and layers):
  <https://docs.docker.com/build/building/multi-stage/#use-a-previous-stage-as-a-new-stage>
- Docker docs, "Optimize cache usage in builds": "Order your layers" (copy `package.json` and
  lock files before the sources) and "Use cache mounts" (a package cache kept across builds).
- Docker docs, "Dockerfile reference: RUN --mount" (`type=bind` mounts context files,
  `type=cache` keeps a directory between builds).
- Docker docs, language guides for Go and Rust: `go mod download` / `cargo build` with
  bind-mounted manifests and cache mounts.
- Go docs, `go help mod download`, `go help mod vendor`, "Vendoring" (`-mod=vendor`, used
  by default when `vendor/modules.txt` is present since Go 1.14) and GOPATH mode;
  `go help install` for `pkg@version`.
- Maven Dependency Plugin, `dependency:go-offline` and `dependency:resolve`; Maven's `-o`
  (offline) option; Maven docs, "Introduction to the Build Lifecycle" (the phases).
- Gradle docs, "The Gradle Wrapper" (the wrapper downloads Gradle itself) and
  `--offline`; the `dependencies` task; "Command-Line Interface Reference" (`-p`,
  `--project-dir`, `-g`); "Build Lifecycle" (the settings file is looked for in the current
  folder and then its parents).
- Maven docs, "Maven CLI Options Reference" (`-f`, `-P`, `-s`, `-gs`); Poetry docs,
  "Commands" (`install --without/--with/--only/--extras`, the global `-C`/`--directory`
  option); uv docs, "Commands" (`uv sync --no-dev/--extra/--group`, `--directory`,
  `--project`); Composer docs, "Command-line interface" (`--no-dev`, `--working-dir`).
- Docker docs, "Understanding image layers": each layer records changes on top of the ones
  below, so what a lower layer added stays in the image when a later one deletes it.
- Cargo book, `cargo fetch`, `cargo clean -p` and `cargo build --offline/--frozen`;
  cargo-chef README (`cargo chef prepare` on the whole context, `cargo chef cook` from the
  recipe).
- .NET docs, "Containerize a .NET app" (copy the project file, `dotnet restore`, then the
  rest, `--no-restore`).
- GNU make manual, "Rule Syntax", "Pattern Rules", "How to Use Variables" and "Arguments to
  Specify the Goals" (the first target is the default goal).
- npm docs, `npm install <pkg>` (adds the named packages); pip docs, "Requirements File
  Format" (`-e`, local paths and URLs in a requirements file).
- Cargo book, "Workspaces" (`members` globs); Bundler docs, "gemspec" (the Gemfile method
  loads the gemspec) and `path:` gems; Poetry docs, path dependencies; uv docs, "Workspaces";
  Composer docs, "Repositories" (`path`); npm docs, package.json "Local Paths".
- conda docs, "Managing environments" (creating and updating an environment from an
  environment.yml file, and its `pip:` section) and "conda clean".
- npm docs, "workspaces" (each workspace is a folder with its own package.json); Yarn docs,
  "Workspaces"; pnpm docs, "pnpm-workspace.yaml" (`packages` globs); Docker docs,
  "Dockerfile reference": COPY with wildcards copies the matching files into the destination.
- Docker docs, "Dockerfile reference", COPY: "each <src> may contain wildcards", and "if
  <src> is a directory, the entire contents of the directory are copied" (a wildcard matching
  a folder, `COPY App/* ./`, copies that folder's contents into the destination: its sources
  arrive there as with `COPY App/Sub/ ./`).
- Yarn docs, "Questions and answers: Which files should be gitignored?" (what `.yarn` holds:
  `cache`, `releases`, `plugins`, `patches`, `sdks`, `versions`):
  <https://yarnpkg.com/getting-started/qa#which-files-should-be-gitignored>
- npm docs, `npm ci`; Bun docs, "bun install" (`bun.lock`, `--frozen-lockfile`, the global
  cache in `~/.bun/install/cache`); Yarn, pnpm, Poetry (`--no-root`), uv ("Using uv in Docker":
  `--no-install-project`), Bundler, Composer and Mix (`mix deps.get`) documentation; PDM
  docs, "pdm install" (`--no-self`: the dependencies without the project, `--prod`,
  `--frozen-lockfile`): <https://pdm-project.org/latest/reference/cli/#install>; Stack docs,
  "stack build" (`--only-dependencies`, targets naming packages):
  <https://docs.haskellstack.org/en/stable/commands/build_command/>; sbt docs, "Library
  Management" (`update` resolves the library dependencies):
  <https://www.scala-sbt.org/1.x/docs/Library-Management.html>; Dart docs, "dart pub get":
  <https://dart.dev/tools/pub/cmd/pub-get>; Swift Package Manager docs,
  "Resolving and updating dependencies" (`swift package resolve`, `Package.resolved`):
  <https://docs.swift.org/swiftpm/documentation/packagemanagerdocs/resolvingpackageversions/>
- cpanm docs, "--installdeps" ("Installs the dependencies of the target distribution but
  won't build itself"), `--cpanfile`: <https://metacpan.org/pod/cpanm>; Carton docs,
  "carton install" (the cpanfile's modules, `--deployment` from cpanfile.snapshot, into
  `local/`): <https://metacpan.org/pod/Carton>
- Deno docs, "deno install" (without arguments, every dependency of deno.json and
  package.json; `--entrypoint`, the dependencies of the named files):
  <https://docs.deno.com/runtime/reference/cli/install/>
- renv docs, "Using renv with Docker" (copy renv.lock, .Rprofile, renv/activate.R and
  renv/settings.json, restore, then the rest):
  <https://rstudio.github.io/renv/articles/docker.html>; Cabal docs, "cabal build"
  (`--only-dependencies`) and `cabal update`:
  <https://cabal.readthedocs.io/en/stable/cabal-commands.html>; Pkg docs, `Pkg.instantiate`:
  <https://pkgdocs.julialang.org/v1/api/>; opam manual, "opam install" (`--deps-only`, a local
  folder): <https://opam.ocaml.org/doc/man/opam-install.html>; shards manual (`install`, and
  `build` "ensures all dependencies are installed"):
  <https://crystal-lang.org/reference/man/shards/>; nimble(1) (`install -d, --depsOnly`,
  `build`); Conan 2 docs, "conan install" (the recipe's folder, `--output-folder`, settings,
  options, profiles, `--build`): <https://docs.conan.io/2/reference/commands/install.html>
- setuptools docs, "Dependencies Management in setuptools" (`install_requires`, installed
  with the project) and "Configuring setuptools using pyproject.toml" (`dynamic` dependencies
  read from a file); pip docs, "Local project installs".
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from layerbot.analysis import dockerfile, ecosystems, layer_cache
from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.dependency_fetches import (
    DependencyFetch,
    fetches_after_sources,
    project_context,
)
from layerbot.analysis.dependency_reorder import (
    already_copied,
    cached_step,
    reorder_fix,
)
from layerbot.analysis.ecosystems import DependencyStep, StepKind
from layerbot.analysis.fixes import apply_fix
from layerbot.analysis.model import Finding, Fix, FixAvailability, InputError, Severity

NAME = "dependency-layer-order"
SEVERITY = Severity.MAJOR
TARGET = "dockerfile"
FIX_AVAILABILITY = FixAvailability.SOMETIMES
FIX_TITLE = "Copy the dependency manifests and install before the sources"


def _impact(
    ctx: DockerfileContext, fetch: DependencyFetch, fix: Fix | None, cached: str | None
) -> tuple[str, Fix | None]:
    """The impact sentence from the cache model before and after the fix, and the fix, or
    ``None`` when the fixed file would not parse (a fix never offers a broken Dockerfile)."""
    before = layer_cache.steps_rerun(ctx.doc, fetch.stage)
    after = None
    if fix is not None:
        try:
            after_doc = dockerfile.parse(apply_fix(ctx.doc.text, fix), ctx.doc.path)
            after = layer_cache.steps_rerun(after_doc, fetch.stage.index)
        except InputError:
            fix = None
    sentence = layer_cache.impact_sentence(
        before, after, slow_step=fetch.step.command.text, cached_step=cached
    )
    return sentence, fix


def _manifests(
    ctx: DockerfileContext, project: DockerfileContext, fetch: DependencyFetch
) -> list[str]:
    """Context-relative manifests of the project that exist and are not ``.dockerignore``d."""
    patterns = ecosystems.ignore_patterns(ctx)
    found = ecosystems.existing_manifests(project, fetch.step.ecosystem, fetch.step)
    relative = [posixpath.join(fetch.project, m) if fetch.project else m for m in found]
    return [m for m in relative if not ecosystems.is_ignored(patterns, m)]


def _through(step: DependencyStep) -> str:
    """What a ``make`` target runs, for the message (``make build`` runs ``go build``)."""
    return f" (its recipe runs `{' '.join(step.recipe.argv)}`)" if step.recipe else ""


def _message(
    fetch: DependencyFetch,
    manifests: list[str],
    command: str,
    local: list[str],
    holder: str | None,
) -> str:
    read_too = ", ".join(f"`{path}`" for path in local)
    # an offline install (`bundle install --local`) re-installs on a source change, from
    # local files or what is cached or installed already: it downloads nothing
    offline = ecosystems.installs_offline(fetch.step)
    fetches = "installs" if offline else "downloads"
    if manifests and set(manifests) <= already_copied(fetch, manifests):
        copied = ", ".join(f"`{m}`" for m in manifests)
        runs = _through(fetch.step)
        then = f"copy {read_too} with them and run" if local else "run"
        return (
            f"`{fetch.step.command.text}`{runs} {fetches} the {fetch.step.ecosystem.label} "
            f"dependencies itself after the sources arrived: {copied} are copied alone first, "
            f"but nothing {fetches} from them, so any source change {fetches} everything "
            f"again; {then} `{command}` right after copying them."
        )
    ecosystem, step = fetch.step.ecosystem, fetch.step
    copy_text = " ".join(fetch.copy.original.split())
    brought = (
        "copied the whole build context"
        if layer_cache.is_whole_context_copy(fetch.copy)
        else "brought in the sources"
    )
    if fetch.copy is fetch.run:
        copy_text = "--mount=type=bind"
    if holder is not None:
        brought += f" (in stage `{holder}`, which this one is built from)"
    wanted = ", ".join(f"`{m}`" for m in manifests) or f"the {ecosystem.label} manifests"
    if local:
        wanted += f" and what the install reads from the project itself ({read_too})"
    if step.kind is StepKind.DOWNLOAD:
        return (
            f"`{step.command.text}` runs after `{copy_text}` {brought}, so any "
            f"source change invalidates the layer and {ecosystem.label} dependencies are "
            f"{'installed' if offline else 'downloaded'} again on every build; copy {wanted} "
            "first and install before copying the rest."
        )
    runs = _through(step)
    if step.ecosystem is ecosystems.PIP and not manifests:
        return (
            f"`{step.command.text}` installs the dependencies the project's own metadata "
            f"declares, after `{copy_text}` {brought}, so any source change downloads them all "
            "again; pip has no dependency-only install from `pyproject.toml`: pin them in a "
            "requirements file copied and installed first (then `pip install --no-deps .`)."
        )
    return (
        f"`{step.command.text}`{runs} {fetches} the {ecosystem.label} dependencies itself, after "
        f"`{copy_text}` {brought} and with no dependency step on the manifests "
        f"alone before it, so any source change {fetches} them all again; copy {wanted} "
        f"first and run `{command}` before copying the rest."
    )


def _in_stage(fetch: DependencyFetch) -> bool:
    """Whether the copy that brought the sources is in the fetching stage itself."""
    return fetch.copy is fetch.run or any(i is fetch.copy for i in fetch.stage.body)


def _copy_stage(ctx: DockerfileContext, fetch: DependencyFetch) -> str | None:
    """The name of the stage the sources were copied in, when it is one the fetching stage is
    built ``FROM``; ``None`` when they were copied in the fetching stage."""
    if _in_stage(fetch):
        return None
    holder = next(st for st in ctx.doc.stages if any(i is fetch.copy for i in st.body))
    return holder.name or str(holder.index)


def check(ctx: DockerfileContext) -> Iterator[Finding]:
    for fetch in fetches_after_sources(ctx):
        project = project_context(ctx, fetch)
        manifests = _manifests(ctx, project, fetch)
        local = ecosystems.local_inputs(project, fetch.step.ecosystem, fetch.step)
        fix = None
        # Sources copied by a stage this one is built FROM: the fix would edit two stages.
        if manifests and not local and _in_stage(fetch):
            fix = reorder_fix(ctx, project, fetch, manifests)
        cached = cached_step(project, fetch)
        impact, fix = _impact(ctx, fetch, fix, cached if fix else None)
        message = _message(fetch, manifests, cached, local, _copy_stage(ctx, fetch))
        yield ctx.finding(
            NAME, SEVERITY, fetch.copy, message, impact=impact, fix=fix, end=fetch.run
        )
