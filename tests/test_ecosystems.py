"""The ecosystem table: recognising dependency steps, finding manifests, canonical commands."""

from __future__ import annotations

import pytest

from layerbot.analysis import dockerfile, ecosystems, runs
from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.ecosystems import StepKind, make
from layerbot.analysis.image_ref import parse_image
from layerbot.analysis.model import RepoView


def run(text: str) -> dockerfile.Instruction:
    return dockerfile.parse(f"FROM scratch\nRUN {text}\n").stages[0].body[0]


def context(files: dict[str, str], path: str = "Dockerfile") -> DockerfileContext:
    files = {path: "FROM scratch\n", **files}
    return DockerfileContext.for_file(
        dockerfile.parse(files[path], path), RepoView.from_files(files)
    )


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("export GOPROXY=x && go mod download", [("go", "download")]),
        ("CGO_ENABLED=0 go build -o /app .", [("go", "build")]),
        ("go mod tidy", [("go", "build")]),
        ("npm ci --omit=dev", [("npm", "download")]),
        ("npm install && npm run build", [("npm", "download")]),
        ("npm install -g pnpm", []),
        ("npm install --no-save puppeteer@22", []),
        ("npm install --loglevel warn", [("npm", "download")]),
        ("pnpm install sharp", []),
        ("yarn", [("yarn", "download")]),
        ("yarn build", []),
        ("pnpm i --frozen-lockfile", [("pnpm", "download")]),
        ("pnpm fetch", [("pnpm", "download")]),
        ("pip install --no-cache-dir -r requirements.txt", [("pip", "download")]),
        ("python3 -m pip install -r req/base.txt", [("pip", "download")]),
        ("uv pip install --system -r requirements.txt", [("pip", "download")]),
        ("pip install .", [("pip", "build")]),
        ("pip install -e .", [("pip", "build")]),
        ("pip install gunicorn", []),
        ('pip install ".[server]"', [("pip", "build")]),
        ("pip install --no-deps .", []),
        ("poetry install --no-root", [("poetry", "download")]),
        ("poetry install --no-interaction", [("poetry", "build")]),
        ("uv sync --frozen --no-install-project", [("uv", "download")]),
        ("uv sync --frozen", [("uv", "build")]),
        ("pipenv install --deploy --system", [("pipenv", "download")]),
        ("mvn -B dependency:go-offline", [("maven", "download")]),
        ("./mvnw -B package -DskipTests", [("maven", "build")]),
        ("mvn --version", []),
        ("mvn install:install-file -Dfile=lib/x.jar -DgroupId=a -DartifactId=x", []),
        ("mvn -q help:evaluate -Dexpression=project.version", []),
        ("mvn clean", []),
        ("mvn -B clean verify", [("maven", "build")]),
        ("mvn spring-boot:run", [("maven", "build")]),
        ("mvn -B -s settings.xml dependency:go-offline", [("maven", "download")]),
        ("gradle -p app dependencies", [("gradle", "download")]),
        ("npm --prefix web ci", [("npm", "download")]),
        ("pnpm --filter api install", [("pnpm", "download")]),
        ("uv pip install .", [("pip", "build")]),
        ("uv pip sync requirements.txt", [("pip", "download")]),
        ("gradle dependencies --no-daemon", [("gradle", "download")]),
        ("./gradlew bootJar", [("gradle", "build")]),
        ("cargo fetch", [("cargo", "download")]),
        ("cargo build --release", [("cargo", "build")]),
        ("cargo install ripgrep", []),
        ("cargo install --path .", [("cargo", "build")]),
        ("bundle install --jobs 4", [("bundler", "download")]),
        ("bundle exec rake assets:precompile", []),
        ("composer install --no-dev", [("composer", "download")]),
        ("dotnet restore", [("dotnet", "download")]),
        ("dotnet publish -c Release", [("dotnet", "build")]),
        ("dotnet publish -c Release --no-restore", []),
        ("go mod download && npm ci", [("go", "download"), ("npm", "download")]),
        ("apk add --no-cache git", []),
    ],
)
def test_dependency_steps(script: str, expected: list[tuple[str, str]]) -> None:
    steps = ecosystems.dependency_steps(run(script))
    assert [(s.ecosystem.name, s.kind.value) for s in steps] == expected


def test_exec_form_and_sh_c_are_read() -> None:
    assert ecosystems.step_ecosystem(run('["npm", "ci"]')) is ecosystems.NPM
    assert ecosystems.step_ecosystem(run('["sh", "-c", "go mod download"]')) is ecosystems.GO
    assert ecosystems.step_ecosystem(run("echo hi")) is None


def test_pip_requirement_files_in_every_spelling() -> None:
    [step] = ecosystems.dependency_steps(
        run("pip install -r a.txt --requirement b.txt --requirement=c.txt -rd.txt -c e.txt")
    )
    assert ecosystems.pip_requirement_files(step.command) == [
        "a.txt",
        "b.txt",
        "c.txt",
        "d.txt",
        "e.txt",
    ]
    assert step.kind is StepKind.DOWNLOAD


def test_detect_lets_yarn_and_pnpm_claim_package_json() -> None:
    found = ecosystems.detect(context({"package.json": "{}", "yarn.lock": "", "go.mod": ""}))
    assert [e.name for e in found] == ["go", "yarn"]
    assert [e.name for e in ecosystems.detect(context({"package.json": "{}"}))] == ["npm"]


def test_detect_reads_markers_at_the_context_root_only() -> None:
    """``detect`` lists the context's root folder once: every marker must be a root name."""
    assert all("/" not in m for e in ecosystems.ECOSYSTEMS for m in e.markers)
    files = {"app/Dockerfile": "FROM scratch\n", "app/Api.csproj": "", "app/sub/go.mod": ""}
    ctx = DockerfileContext.for_file(
        dockerfile.parse(files["app/Dockerfile"], "app/Dockerfile"), RepoView.from_files(files)
    )
    assert [e.name for e in ecosystems.detect(ctx)] == ["dotnet"]


def test_existing_manifests_only_lists_files_that_exist_in_a_stable_order() -> None:
    ctx = context({"package-lock.json": "", "package.json": "", ".npmrc": ""})
    assert ecosystems.existing_manifests(ctx, ecosystems.NPM) == [
        "package.json",
        "package-lock.json",
        ".npmrc",
    ]
    assert ecosystems.existing_manifests(ctx, ecosystems.GO) == []


def test_existing_manifests_are_relative_to_the_build_context() -> None:
    ctx = context({"api/go.mod": "", "api/go.sum": "", "go.mod": ""}, "api/Dockerfile")
    assert ecosystems.existing_manifests(ctx, ecosystems.GO) == ["go.mod", "go.sum"]
    ctx = context({"go.mod": ""}, "api/Dockerfile")
    assert ecosystems.existing_manifests(ctx, ecosystems.GO) == []


def test_sub_project_manifests_come_from_the_root_manifest() -> None:
    maven = context(
        {
            "pom.xml": "<modules><module>core</module><module>gone</module></modules>",
            "core/pom.xml": "<modules><module>inner</module></modules>",
            "core/inner/pom.xml": "",
            ".mvn/wrapper/maven-wrapper.properties": "",
        }
    )
    assert ecosystems.existing_manifests(maven, ecosystems.MAVEN) == [
        "pom.xml",
        "core/pom.xml",
        "core/inner/pom.xml",
        ".mvn/",
    ]
    gradle = context(
        {
            "settings.gradle": "include ':api', ':lib:util'\n",
            "build.gradle": "",
            "api/build.gradle.kts": "",
            "lib/util/build.gradle": "",
        }
    )
    assert ecosystems.existing_manifests(gradle, ecosystems.GRADLE) == [
        "settings.gradle",
        "build.gradle",
        "api/build.gradle.kts",
        "lib/util/build.gradle",
    ]
    cargo = context(
        {
            "Cargo.toml": '[workspace]\nmembers = ["crates/a", "crates/*"]\n'
            'b = { path = "../outside" }\n',
            "crates/a/Cargo.toml": "",
        }
    )
    assert ecosystems.existing_manifests(cargo, ecosystems.CARGO) == [
        "Cargo.toml",
        "crates/a/Cargo.toml",
    ]
    dotnet = context(
        {
            "App.sln": 'Project("{X}") = "Api", "src\\Api\\Api.csproj", "{Y}"\n',
            "src/Api/Api.csproj": '<ProjectReference Include="..\\Lib\\Lib.csproj" />',
            "src/Lib/Lib.csproj": "",
            "NuGet.config": "",
        }
    )
    assert ecosystems.existing_manifests(dotnet, ecosystems.DOTNET) == [
        "App.sln",
        "NuGet.config",
        "src/Api/Api.csproj",
        "src/Lib/Lib.csproj",
    ]


def test_canonical_commands_follow_the_project() -> None:
    ctx = context({"requirements.txt": "", "requirements-dev.txt": "", ".yarnrc.yml": ""})
    assert ecosystems.canonical_command(ctx, ecosystems.PIP) == "pip install -r requirements.txt"
    assert ecosystems.canonical_command(ctx, ecosystems.YARN) == "yarn install --immutable"
    assert ecosystems.canonical_command(context({}), ecosystems.YARN) == (
        "yarn install --frozen-lockfile"
    )
    [mvnw] = ecosystems.dependency_steps(run("./mvnw -B package"))
    assert ecosystems.canonical_command(ctx, ecosystems.MAVEN, mvnw) == (
        "./mvnw -B dependency:go-offline"
    )
    [pip] = ecosystems.dependency_steps(run("python -m pip install --no-cache-dir ."))
    assert ecosystems.canonical_command(ctx, ecosystems.PIP, pip) == (
        "python -m pip install --no-cache-dir -r requirements-dev.txt -r requirements.txt"
    )
    [composer] = ecosystems.dependency_steps(run("composer install --no-dev -o"))
    assert ecosystems.canonical_command(ctx, ecosystems.COMPOSER, composer) == (
        "composer install --no-scripts --no-autoloader --no-dev"
    )
    two_projects = context({"A.csproj": "", "B.csproj": ""})
    assert ecosystems.canonical_command(two_projects, ecosystems.DOTNET) == (
        "dotnet restore A.csproj"
    )
    assert ecosystems.canonical_command(context({"A.csproj": ""}), ecosystems.DOTNET) == (
        "dotnet restore"
    )
    crate = context({"Cargo.toml": "", "src/main.rs": "", "src/lib.rs": ""})
    assert ecosystems.canonical_command(crate, ecosystems.CARGO) == (
        "mkdir -p src && echo 'fn main() {}' > src/main.rs && echo '' > src/lib.rs && cargo fetch"
    )


def test_every_canonical_command_is_recognised_as_a_download() -> None:
    for ecosystem in ecosystems.ECOSYSTEMS:
        steps = ecosystems.dependency_steps(run(ecosystem.command))
        assert [(s.ecosystem, s.kind) for s in steps] == [(ecosystem, StepKind.DOWNLOAD)]


@pytest.mark.parametrize(
    ("patterns", "path", "ignored"),
    [
        (["node_modules"], "node_modules", True),
        (["node_modules"], "node_modules/x/index.js", True),
        (["node_modules"], "web/node_modules", False),
        (["**/node_modules"], "web/node_modules", True),
        (["*.md", "!README.md"], "README.md", False),
        (["*.md", "!README*.md", "README-secret.md"], "README-secret.md", True),
        (["temp?"], "tempa", True),
        (["*/temp*"], "somedir/temporary.txt", True),
        (["*/temp*"], "temporary.txt", False),
        ([], "anything", False),
    ],
)
def test_is_ignored_follows_dockerignore_rules(
    patterns: list[str], path: str, ignored: bool
) -> None:
    assert ecosystems.is_ignored(patterns, path) is ignored


def test_dockerfile_specific_ignore_file_wins() -> None:
    ctx = context({"Dockerfile.dockerignore": "a\n", ".dockerignore": "b\n"})
    assert ecosystems.dockerignore_path(ctx) == "Dockerfile.dockerignore"
    assert ecosystems.ignore_patterns(ctx) == ["a"]
    ctx = context({".dockerignore": "# comment\n\n/b/\n"})
    assert ecosystems.ignore_patterns(ctx) == ["b"]
    assert ecosystems.dockerignore_path(context({})) is None


def test_cache_mounts_and_image_specific_cache_folders() -> None:
    mounted = run("--mount=type=cache,target=/root/.npm/ npm ci")
    assert ecosystems.has_cache_mount(mounted, ecosystems.NPM)
    assert not ecosystems.has_cache_mount(mounted, ecosystems.PIP)
    inner = run("--mount=type=cache,dst=/go/pkg/mod/cache go mod download")
    assert ecosystems.has_cache_mount(inner, ecosystems.GO)
    assert ecosystems.cache_dirs(ecosystems.GRADLE, "gradle") == ("/home/gradle/.gradle/caches",)
    assert ecosystems.cache_dirs(ecosystems.GRADLE, "eclipse-temurin") == ("/root/.gradle/caches",)


def test_the_table_names_each_ecosystems_toolchain_and_runtime_images() -> None:
    for ecosystem in ecosystems.ECOSYSTEMS:
        assert ecosystem.toolchain_images and ecosystem.runtime_images, ecosystem.name
        assert not set(ecosystem.toolchain_images) & {"scratch", "alpine", "debian"}
    assert [e.name for e in ecosystems.built_with("golang")] == ["go"]
    assert [e.name for e in ecosystems.built_with("eclipse-temurin")] == ["maven", "gradle"]
    assert ecosystems.built_with("alpine") == ()


def test_every_toolchain_image_the_multi_stage_rule_knows_is_in_the_table() -> None:
    from layerbot.analysis import toolchains

    for repository in (
        "golang",
        "rust",
        "maven",
        "gradle",
        "openjdk",
        "eclipse-temurin",
        "amazoncorretto",
        "mcr.microsoft.com/dotnet/sdk",
        "node",
        "python",
    ):
        image = parse_image(f"{repository}:1")
        assert toolchains.toolchain_of(image) is not None, repository
        assert ecosystems.built_with(repository), repository


def test_a_cargo_build_is_replayed_on_placeholders_and_its_own_packages_cleaned() -> None:
    files = {
        "Cargo.toml": '[package]\nname = "app"\nversion = "0.1.0"\n',
        "Cargo.lock": "",
        "src/main.rs": "fn main() {}\n",
    }
    ctx = context(files)
    run = "RUN cargo build --release --locked --target x86_64-unknown-linux-musl --bin app"
    [step] = ecosystems.dependency_steps(dockerfile.parse(f"FROM rust\n{run}\n").stages[0].body[0])
    assert ecosystems.canonical_command(ctx, ecosystems.CARGO, step) == (
        "mkdir -p src && echo 'fn main() {}' > src/main.rs && "
        "cargo build --release --locked --target x86_64-unknown-linux-musl && "
        "cargo clean -p app --release --target x86_64-unknown-linux-musl"
    )


@pytest.mark.parametrize(
    "run, kind",
    [
        ("mvn -B -Pprod package", "build"),
        ("mvn -B -Dspring-boot.repackage.skip=false package", "build"),
        ("mvn -o package", None),
        ("mvn --offline verify", None),
    ],
)
def test_maven_offline_is_the_option_itself(run: str, kind: str | None) -> None:
    steps = ecosystems.dependency_steps(dockerfile.parse(f"FROM x\nRUN {run}\n").stages[0].body[0])
    assert [s.kind.value for s in steps] == ([kind] if kind else [])


def test_yarn_workspaces_focus_is_an_install() -> None:
    run = dockerfile.parse("FROM x\nRUN yarn workspaces focus --all --production\n")
    [step] = ecosystems.dependency_steps(run.stages[0].body[0])
    assert (step.ecosystem.name, step.kind) == ("yarn", StepKind.DOWNLOAD)


@pytest.mark.parametrize(
    "run", ["yarn --version", "yarn -v", "bundle -v", "bundle version", "npm --help", "go --help"]
)
def test_a_tool_asked_about_itself_is_no_dependency_step(run: str) -> None:
    instruction = dockerfile.parse(f"FROM x\nRUN {run}\n").stages[0].body[0]
    assert ecosystems.dependency_steps(instruction) == []


def _make_step(makefile: str, script: str) -> tuple[str, str, str] | None:
    [command] = runs.run_commands(run(script))
    step = make.make_step(command, makefile)
    if step is None:
        return None
    assert step.command == command and step.recipe is not None
    return step.ecosystem.name, step.kind.value, " ".join(step.recipe.argv)


MAKEFILE = """GO ?= go
OUT := bin
LDFLAGS = -s -w

all: build

build: generate
\t@mkdir -p $(OUT)
\tCGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(OUT)/app ./cmd/app

generate:
\t$(MAKE) tools

tools:
\t./scripts/tools.sh

release-%:
\tGOOS=$* $(GO) build -o $(OUT)/app-$* ./cmd/app

lint:
\tgolangci-lint run

vendored:
\tgo build -mod=vendor ./...
"""


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("make", ("go", "build", "go build -ldflags -s -w -o bin/app ./cmd/app")),
        ("make build", ("go", "build", "go build -ldflags -s -w -o bin/app ./cmd/app")),
        ("make -j4 release-linux VERSION=1", ("go", "build", "go build -o bin/app-$* ./cmd/app")),
        ("make lint", None),
        ("make tools", None),
        ("make vendored", None),
        ("make no-such-target", None),
    ],
)
def test_a_make_target_is_the_build_its_recipe_runs(
    script: str, expected: tuple[str, str, str] | None
) -> None:
    assert _make_step(MAKEFILE, script) == expected


def test_make_follows_targets_run_through_make_and_cargo_recipes() -> None:
    makefile = "image: binary\n\nbinary:\n\t$(MAKE) compile\n\ncompile:\n\tcargo build --release\n"
    assert _make_step(makefile, "make image") == ("cargo", "build", "cargo build --release")


def test_the_dependency_only_command_keeps_what_the_install_chooses() -> None:
    [poetry] = ecosystems.dependency_steps(run("poetry install --without=dev -E pg --sync -vvv"))
    assert ecosystems.kept_arguments(poetry) == ["--without=dev", "-E", "pg"]
    [maven] = ecosystems.dependency_steps(run("mvn -Pprod -s ci/settings.xml -q package"))
    assert ecosystems.kept_arguments(maven) == ["-Pprod", "-s", "ci/settings.xml"]
    ctx = context({"pom.xml": ""})
    assert ecosystems.canonical_command(ctx, ecosystems.MAVEN, maven) == (
        "mvn -B dependency:go-offline -Pprod -s ci/settings.xml"
    )
    [uv] = ecosystems.dependency_steps(run("uv sync --locked --no-dev --group 'web api'"))
    assert ecosystems.canonical_command(ctx, ecosystems.UV, uv) == (
        "uv sync --frozen --no-install-project --no-dev --group 'web api'"
    )


def test_a_folder_option_names_the_project() -> None:
    [maven] = ecosystems.dependency_steps(run("mvn -f services/api/pom.xml package"))
    assert ecosystems.named_folder(maven) == "services/api"
    [gradle] = ecosystems.dependency_steps(run("gradle --project-dir=backend/ build"))
    assert ecosystems.named_folder(gradle) == "backend"
    [poetry] = ecosystems.dependency_steps(run("poetry -C app install --only main"))
    assert poetry.kind is ecosystems.StepKind.BUILD
    assert ecosystems.named_folder(poetry) == "app"
    [composer] = ecosystems.dependency_steps(run("composer --working-dir=web install"))
    assert ecosystems.named_folder(composer) == "web"
    [npm] = ecosystems.dependency_steps(run("npm ci"))
    assert ecosystems.named_folder(npm) is None


def test_node_workspaces_named_by_folder_are_manifests_and_patterns_are_reported() -> None:
    named = context(
        {
            "package.json": '{"workspaces": ["api", "libs/*", "!libs/old"]}',
            "api/package.json": "{}",
        }
    )
    assert ecosystems.existing_manifests(named, ecosystems.NPM) == [
        "package.json",
        "api/package.json",
    ]
    assert ecosystems.local_inputs(named, ecosystems.NPM) == ["libs/*/package.json"]
    yarn = context({"package.json": '{"workspaces": {"packages": ["packages/*"]}}'})
    assert ecosystems.local_inputs(yarn, ecosystems.YARN) == ["packages/*/package.json"]
    assert ecosystems.local_inputs(context({"package.json": "{not json"}), ecosystems.NPM) == [
        "*/package.json"
    ]
    pnpm = context({"pnpm-workspace.yaml": "packages:\n  - web\n  - 'packages/**'\n"})
    assert ecosystems.local_inputs(pnpm, ecosystems.PNPM) == ["packages/**/package.json"]
    assert ecosystems.local_inputs(context({}), ecosystems.PNPM) == []


def test_local_packages_the_install_reads_are_found_in_each_manifest() -> None:
    node = context(
        {"package.json": '{"dependencies": {"a": "file:../a", "b": "^1", "c": "link:c"}}'}
    )
    assert ecosystems.local_inputs(node, ecosystems.NPM) == ["../a", "c"]
    poetry = context(
        {
            "pyproject.toml": '[tool.poetry.dependencies]\ncore = {path = "libs/core"}\n'
            '[tool.poetry.group.dev.dependencies]\nkit = {path = "../kit", develop = true}\n'
        }
    )
    assert ecosystems.local_inputs(poetry, ecosystems.POETRY) == ["libs/core", "../kit"]
    uv = context(
        {
            "pyproject.toml": '[tool.uv.sources]\nlib = {path = "lib"}\nweb = {workspace = true}\n'
            '[tool.uv.workspace]\nmembers = ["packages/*"]\n'
        }
    )
    assert ecosystems.local_inputs(uv, ecosystems.UV) == ["lib", "packages/*"]
    broken = context({"pyproject.toml": '[tool.poetry]\ndependencies = "not a table"\n'})
    assert ecosystems.local_inputs(broken, ecosystems.POETRY) == []
    requirements = context({"requirements.txt": "-e ./sdk\nflask\n-r base.txt\n./wheel\n"})
    assert ecosystems.local_inputs(requirements, ecosystems.PIP) == ["./sdk", "./wheel"]
    repositories = '[{"type": "path", "url": "packages/*"}, {"type": "vcs"}]'
    composer = context({"composer.json": f'{{"repositories": {repositories}}}'})
    assert ecosystems.local_inputs(composer, ecosystems.COMPOSER) == ["packages/*"]
    go = context({"go.mod": "module x\nreplace example.com/a => ../a\n"})
    assert ecosystems.local_inputs(go, ecosystems.GO) == ["../a"]


def test_requirement_files_bring_the_files_they_include() -> None:
    ctx = context(
        {
            "requirements.txt": "-r base/common.txt\nflask\n",
            "base/common.txt": "--constraint=pins.txt\n-r ../requirements.txt\n",
            "base/pins.txt": "requests==2.32.0\n",
        }
    )
    [pip] = ecosystems.dependency_steps(run("pip install -r requirements.txt"))
    assert ecosystems.existing_manifests(ctx, ecosystems.PIP, pip) == [
        "requirements.txt",
        "base/common.txt",
        "base/pins.txt",
    ]


def test_gems_from_folders_and_what_a_gemspec_loads_are_local_inputs() -> None:
    ctx = context(
        {
            "Gemfile": (
                'gemspec\ngem "admin", path: "engines/admin"\ngem "old", :path => "vendor/old"\n'
            ),
            "kit.gemspec": (
                'lib = File.expand_path("lib", __dir__)\n$LOAD_PATH.unshift(lib)\n'
                'require "kit/version"\nrequire "json"\n'
            ),
            "lib/kit/version.rb": "",
        }
    )
    assert ecosystems.local_inputs(ctx, ecosystems.BUNDLER) == [
        "engines/admin",
        "vendor/old",
        "lib/kit/version.rb",
    ]
    no_gemspec = context({"Gemfile": 'gem "rails"\n', "kit.gemspec": 'require_relative "x"\n'})
    assert ecosystems.local_inputs(no_gemspec, ecosystems.BUNDLER) == []
    cargo = context({"Cargo.toml": '[workspace]\nmembers = ["cli", "crates/*"]\n'})
    assert ecosystems.local_inputs(cargo, ecosystems.CARGO) == ["crates/*/Cargo.toml"]


def test_a_requirements_line_says_what_it_reads_besides_packages() -> None:
    from layerbot.analysis.ecosystems.build_context import requirement_reads

    assert requirement_reads("-r base.txt  # shared") == ("file", "base.txt")
    assert requirement_reads("--constraint=pins.txt") == ("file", "pins.txt")
    assert requirement_reads("-e ./sdk") == ("project", "./sdk")
    assert requirement_reads("file:///srv/wheels/pkg") == ("project", "/srv/wheels/pkg")
    assert requirement_reads(".") == ("project", ".")
    assert requirement_reads("-e git+https://example.org/a.git#egg=a") is None
    assert requirement_reads("flask==3.0.3") is None
    assert requirement_reads("# -r commented.txt") is None
