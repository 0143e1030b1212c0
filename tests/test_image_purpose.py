"""What the final image is for: the multi-stage rule speaks only about application images."""

from __future__ import annotations

import pytest

from layerbot.analysis import dockerfile
from layerbot.analysis.context import DockerfileContext
from layerbot.analysis.image_purpose import environment, environment_by_name, source_build
from layerbot.analysis.model import RepoView
from layerbot.analysis.rules.multi_stage import left_behind
from layerbot.analysis.shipped import ShippedImage
from layerbot.analysis.toolchains import Toolchain

GO_APP = "FROM golang:1.22\nWORKDIR /app\nCOPY . .\nRUN go build -o /app/server .\n"


def purpose(text: str, files: dict[str, str] | None = None, path: str = "Dockerfile") -> str | None:
    doc = dockerfile.parse(text, path)
    ctx = DockerfileContext.for_file(doc, RepoView.from_files({path: text, **(files or {})}))
    return environment(ctx, ShippedImage.of(doc))


@pytest.mark.parametrize(
    "path",
    [
        "Dockerfile.dev",
        "dev/Dockerfile",
        ".devcontainer/Dockerfile",
        "ci/Dockerfile",
        ".gitlab-ci/Dockerfile",
        "test/Dockerfile",
        "docker/dev.Dockerfile",
        "Dockerfile.build",
        "Dockerfile-local",
    ],
)
def test_files_named_for_an_environment(path: str) -> None:
    assert environment_by_name(path)


@pytest.mark.parametrize(
    "path",
    [
        "Dockerfile",
        "build/package/Dockerfile",
        "services/api/Dockerfile",
        "deploy/Dockerfile.prod",
        "contest/Dockerfile",
        "local-cache/Dockerfile",
    ],
)
def test_files_named_for_an_application(path: str) -> None:
    assert not environment_by_name(path)


@pytest.mark.parametrize(
    "start",
    [
        'CMD ["air", "-c", ".air.toml"]',
        'CMD ["bash"]',
        "CMD /bin/sh",
        'ENTRYPOINT ["make"]',
        'CMD ["go", "test", "./..."]',
        'CMD ["pytest", "-q"]',
        'CMD ["python", "-m", "pytest"]',
        'CMD ["npm", "run", "dev"]',
        'CMD ["npx", "nodemon", "server.js"]',
        'CMD ["bundle", "exec", "rspec"]',
        'CMD ["flask", "run", "--reload"]',
        'CMD ["python", "manage.py", "runserver", "0.0.0.0:8000"]',
        'CMD ["tail", "-f", "/dev/null"]',
        'CMD ["sleep", "infinity"]',
        'ENTRYPOINT ["go", "run", "github.com/air-verse/air@v1.52.3"]',
        'CMD ["sh", "-c", "if command -v air; then air; else go run .; fi"]',
        'ENTRYPOINT ["tini", "--", "bash"]',
        'CMD ["dotnet", "watch", "run"]',
        'CMD ["npx", "nest", "start", "--watch"]',
        'CMD ["node", "--watch", "server.js"]',
        'CMD ["uvicorn", "main:app", "--reload"]',
    ],
)
def test_start_commands_of_a_workbench(start: str) -> None:
    assert purpose(f"{GO_APP}{start}\n") is not None


@pytest.mark.parametrize(
    "start",
    [
        'CMD ["/app/server"]',
        "CMD ./server --port 8080",
        'ENTRYPOINT ["sh", "/app/start.sh"]',
        'CMD ["sh", "-c", "exec /app/server"]',
        'CMD ["gunicorn", "app:app"]',
        'CMD ["bin/rails", "server", "-b", "0.0.0.0"]',
        'CMD ["npm", "start"]',
        'CMD ["go", "run", "./cmd/server"]',
    ],
)
def test_start_commands_of_an_application(start: str) -> None:
    assert purpose(f"{GO_APP}{start}\n") is None


def test_no_start_command_is_a_toolchain_image() -> None:
    assert purpose(GO_APP) is not None


def test_npm_start_is_judged_by_its_package_json_script() -> None:
    text = 'FROM node:20\nCOPY . .\nRUN npm run build\nCMD ["npm", "start"]\n'
    watch = '{"scripts": {"start": "nodemon dist/index.js"}}'
    run = '{"scripts": {"start": "node dist/index.js"}}'
    assert purpose(text, {"package.json": watch}) is not None
    assert purpose(text, {"package.json": run}) is None


def test_rails_server_is_development_only_with_the_development_environment() -> None:
    start = 'CMD ["bin/rails", "server"]\n'
    assert purpose(f"{GO_APP}ENV RAILS_ENV=development\n{start}") is not None
    assert purpose(f"{GO_APP}ENV RAILS_ENV=production\n{start}") is None


CI = """
variables:
  TOOL_IMAGE: $CI_REGISTRY_IMAGE/tool:main
tool-image:
  image: docker:27
  script:
    - docker build -t "$TOOL_IMAGE" -f tools/Dockerfile tools
    - docker push "$TOOL_IMAGE"
lint:
  image: $TOOL_IMAGE
  script: [tool lint]
"""


def test_the_image_of_a_ci_job_is_an_environment() -> None:
    text = f'{GO_APP}ENTRYPOINT ["/app/server"]\n'
    found = purpose(text, {".gitlab-ci.yml": CI}, path="tools/Dockerfile")
    assert found == "the CI job `lint` runs in this image"
    built_elsewhere = CI.replace("-f tools/Dockerfile tools", "-f other/Dockerfile other")
    assert purpose(text, {".gitlab-ci.yml": built_elsewhere}, path="tools/Dockerfile") is None


def test_a_job_testing_this_commits_image_does_not_make_it_a_tool_image() -> None:
    text = f'{GO_APP}ENTRYPOINT ["/app/server"]\n'
    per_commit = CI.replace("tool:main", "tool:$CI_COMMIT_SHA")
    assert purpose(text, {".gitlab-ci.yml": per_commit}, path="tools/Dockerfile") is None


@pytest.mark.parametrize(
    "run, builds",
    [
        ("RUN go build -o /app/server .", True),
        ("RUN go install ./cmd/server", True),
        ("RUN go install github.com/air-verse/air@v1.52.3", False),
        ("RUN go mod download", False),
    ],
)
def test_only_a_build_of_the_copied_sources_counts(run: str, builds: bool) -> None:
    doc = dockerfile.parse(f"FROM golang:1.22\nCOPY . .\n{run}\n")
    assert (source_build(ShippedImage.of(doc), Toolchain.GO) is not None) is builds


def test_nothing_copied_from_the_context_builds_no_application() -> None:
    doc = dockerfile.parse("FROM golang:1.22\nRUN go build -o /x std\n")
    assert source_build(ShippedImage.of(doc), Toolchain.GO) is None


def test_a_kept_runtime_group_is_not_build_tools() -> None:
    run = "RUN apk add --no-cache --virtual .rundeps libpq tzdata\n"
    instruction = dockerfile.parse(f"FROM alpine:3.20\n{run}").final_stage.of("RUN")[0]
    left = left_behind(instruction)
    assert (left.tools, left.groups) == ((), ())
    kept = "RUN apk add --no-cache --virtual .build-deps gcc musl-dev\n"
    instruction = dockerfile.parse(f"FROM alpine:3.20\n{kept}").final_stage.of("RUN")[0]
    assert left_behind(instruction).group_names == [".build-deps"]
