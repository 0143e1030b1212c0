"""The README stays true: every command in it runs, and its tables and lists match the code.

Commands are taken from the README's ```sh blocks. The two marked commands (set-up and tests)
are what `.ci/run` runs on a fresh clone; every other one is run here: `layerbot` commands for
real (`serve` and `worker` started, probed and stopped; `review` against the fake GitLab), and the
Docker and Kubernetes ones, which need an engine or a cluster this machine does not have, are
checked statically against the files they use (`tests/test_deploy.py` checks those files).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from layerbot.analysis.rules import all_rules
from layerbot.settings import Settings
from tests.fake_gitlab.server import FakeGitLab
from tests.test_deploy import SETTINGS_VARS, gunicorn_variables

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
SECTIONS = [
    "A review, for real",
    "Try it",
    "Installing the webhook in GitLab",
    "Configuration",
    "`.layerbot.yml` and inline ignores",
    "Rules",
    "Docker compose",
    "Scaling out",
    "Benchmarks",
]
START_TIMEOUT = 60.0
README_REDIS_DB = 7
"""The README's worker runs on a Redis database of its own (web tests use 11, worker e2e 13)."""


def marked_command(name: str) -> str:
    """A marked command exactly as `.ci/run` extracts it."""
    block = README.split(f"<!-- command:{name} -->", 1)[1].split(f"<!-- /command:{name} -->")[0]
    lines = block.strip().splitlines()
    assert lines[0].startswith("```") and lines[-1] == "```"
    return "\n".join(lines[1:-1])


MARKED = {marked_command("setup"), marked_command("test")}


def shell_commands() -> list[str]:
    """Every command line of every ```sh block, except the two marked ones."""
    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```$", README, re.MULTILINE | re.DOTALL):
        for line in block.strip().splitlines():
            if line.strip() and line not in MARKED:
                commands.append(line)
    return commands


def split_env(command: str) -> tuple[dict[str, str], list[str]]:
    """Leading `NAME=value` words as an environment, and the argv after them."""
    words = shlex.split(command)
    env = {}
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    return env, words


def layerbot_argv(words: list[str]) -> list[str]:
    """`.venv/bin/layerbot ...` as run here: this interpreter, the same entry point."""
    assert words[0] == ".venv/bin/layerbot", words
    return [sys.executable, "-m", "layerbot.cli", *words[1:]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any bot setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARS}
    return {**env, **extra}


# --- structure ------------------------------------------------------------------------------


def test_sections_come_in_the_promised_order() -> None:
    headings = re.findall(r"^## (.+)$", README, re.MULTILINE)
    assert [h for h in headings if h in SECTIONS] == SECTIONS


def test_ci_runs_the_two_marked_commands() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert "command:setup" in script and "command:test" in script
    assert marked_command("setup").startswith("python3 -m venv .venv")
    assert marked_command("setup").endswith("layerbot check examples/go-service --diff")
    assert marked_command("test") == ".venv/bin/python -m pytest -q"


def test_setup_commands_main_job_prints_findings_with_diffs() -> None:
    main_job = marked_command("setup").rsplit(" && ", 1)[1]
    result = subprocess.run(
        layerbot_argv(shlex.split(main_job)), capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 1, result.stderr
    assert "examples/go-service/Dockerfile" in result.stdout
    assert "+++ b/examples/go-service/Dockerfile" in result.stdout


def test_local_links_point_at_files_that_exist() -> None:
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        if "://" not in target:
            assert (ROOT / target).exists(), target


# --- every command --------------------------------------------------------------------------


def run_check_or_rule(command: str) -> None:
    env, words = split_env(command)
    assert not env
    result = subprocess.run(layerbot_argv(words), capture_output=True, text=True, cwd=ROOT)
    assert result.returncode in (0, 1), f"{command}: {result.stderr}"
    assert result.stdout.strip()


def wait_for(url: str, process: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited early"
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                status: int = answer.status
                return status
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"{url} did not answer within {START_TIMEOUT} s")


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=45)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail("did not stop within 45 s of SIGTERM")


def run_serve(command: str, tmp_path: Path) -> None:
    """Start the one-machine bot as shown (on a free port), probe /healthz, stop it."""
    env, words = split_env(command)
    assert "REDIS_URL" not in env, "the README shows the embedded-queue mode here"
    port = free_port()
    argv = layerbot_argv(words)
    argv[argv.index("--port") + 1] = str(port)
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=clean_env(**env, LAYERBOT_DATA_DIR=str(tmp_path / "data")),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert wait_for(f"http://127.0.0.1:{port}/healthz", process) == 200
    finally:
        assert stop(process) == 0


def run_worker(command: str, tmp_path: Path) -> None:
    """Start the worker as shown, on the test Redis (a database of its own), see it become
    ready, stop it."""
    env, words = split_env(command)
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        pytest.skip("REDIS_URL is not set")
    env["REDIS_URL"] = re.sub(r"/\d*$", "", redis_url.rstrip("/")) + f"/{README_REDIS_DB}"
    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            layerbot_argv(words),
            cwd=ROOT,
            env=clean_env(**env, LAYERBOT_DATA_DIR=str(tmp_path / "data")),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while b"ready" not in log.read_bytes():
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        finally:
            stop(process)
    assert "concurrency: 4 (prefork)" in log.read_text()


def run_review(command: str) -> None:
    """`layerbot review PROJECT MR_IID` against the fake GitLab, with the example project."""
    env, words = split_env(command)
    example = ROOT / "examples" / "go-service"
    files: dict[str, str | bytes] = {
        p.relative_to(example).as_posix(): p.read_text() for p in example.rglob("*") if p.is_file()
    }
    with FakeGitLab() as fake:
        fake.add_user("alice")
        before = {k: v for k, v in files.items() if k not in ("Dockerfile", ".gitlab-ci.yml")}
        project = fake.add_project("acme/go-service", files=before)
        fake.add_member(project, "alice", 30)
        iid = fake.open_merge_request(project, None, files, author="alice")
        argv = layerbot_argv(words)
        argv[-2:] = [str(project), str(iid)]
        env.update(GITLAB_URL=fake.url, GITLAB_TOKEN=fake.bot_token)
        result = subprocess.run(
            argv, capture_output=True, text=True, cwd=ROOT, env=clean_env(**env), timeout=120
        )
    assert result.returncode == 0, result.stderr
    assert f"layerbot review !{iid}: posted" in result.stdout


def check_statically(command: str) -> None:
    """Docker and Kubernetes commands: the files and names they use exist and parse."""
    env, words = split_env(command)
    assert not env
    if words[:2] == ["cp", ".env.example"]:
        assert (ROOT / ".env.example").is_file() and words[2] == ".env"
        assert ".env" in (ROOT / ".gitignore").read_text().split()
        return
    if words[:2] == ["docker", "compose"]:
        services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
        if "--profile" in words:
            profile = words[words.index("--profile") + 1]
            assert any(profile in s.get("profiles", []) for s in services.values())
        assert words[words.index("up") + 1] == "-d"
        if "--scale" in words:
            service, count = words[words.index("--scale") + 1].split("=")
            assert service in services and int(count) > 1
        return
    if words[:3] == ["kubectl", "apply", "-k"]:
        assert (ROOT / words[3] / "kustomization.yaml").is_file()
        return
    pytest.fail(f"no test runs this README command: {command}")


def dispatch(command: str, tmp_path: Path) -> None:
    _, words = split_env(command)
    if words[0] != ".venv/bin/layerbot":
        check_statically(command)
    elif words[1] in ("check", "rule"):
        run_check_or_rule(command)
    elif words[1] == "serve":
        run_serve(command, tmp_path)
    elif words[1] == "worker":
        run_worker(command, tmp_path)
    elif words[1] == "review":
        run_review(command)
    else:
        pytest.fail(f"no test runs this README command: {command}")


def _starts_a_server(command: str) -> bool:
    """`layerbot serve` and `layerbot worker` start processes and wait for them: slow."""
    words = split_env(command)[1]
    return words[:1] == [".venv/bin/layerbot"] and words[1:2] in (["serve"], ["worker"])


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(command, marks=pytest.mark.slow) if _starts_a_server(command) else command
        for command in shell_commands()
    ],
)
def test_every_readme_command_runs(command: str, tmp_path: Path) -> None:
    dispatch(command, tmp_path)


def test_the_readme_shows_the_bot_commands() -> None:
    argvs = [split_env(command)[1] for command in shell_commands()]
    shown = {words[1] for words in argvs if words[0] == ".venv/bin/layerbot"}
    assert {"check", "rule", "serve", "worker", "review"} <= shown


# --- configuration --------------------------------------------------------------------------


def table_rows(heading: str, index: int = 0) -> dict[str, str]:
    """Variable to documented default of the ``index``-th table under ``## heading``."""
    section = README.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    tables = re.findall(r"((?:^\|.*\|\n)+)", section, re.MULTILINE)
    rows = {}
    for line in tables[index].splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        name = cells[0].strip("`")
        default = "" if cells[1] == "(empty)" else cells[1].strip("`")
        rows[name] = default
    return rows


def test_configuration_table_lists_every_setting_with_its_real_default() -> None:
    rows = table_rows("Configuration")
    assert set(rows) == SETTINGS_VARS
    defaults = Settings.from_env({})
    for name, default in rows.items():
        assert Settings.from_env({name: default}) == defaults, name


def test_web_server_table_lists_what_gunicorn_conf_reads() -> None:
    rows = table_rows("Configuration", 1)
    variables = gunicorn_variables()
    assert set(rows) == set(variables)
    for name, default in variables.items():
        if default is not None:
            assert rows[name] == default, name


# --- generated parts ------------------------------------------------------------------------


def test_rules_section_lists_every_registered_rule_with_its_page() -> None:
    section = README.split("<!-- rules:start -->", 1)[1].split("<!-- rules:end -->")[0]
    listed = re.findall(r"^- \[`([a-z0-9-]+)`\]\(docs/rules/([a-z0-9-]+)\.md\)", section, re.M)
    assert [name for name, _ in listed] == list(all_rules())
    assert all(name == page for name, page in listed)
    result = subprocess.run(
        [sys.executable, "-m", "layerbot.docs", "--check"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr


def test_example_review_is_what_the_bot_posts_now() -> None:
    result = subprocess.run(
        [sys.executable, "docs/render_review.py", "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    block = README.split("<!-- review:start -->", 1)[1].split("<!-- review:end -->")[0]
    assert "<!-- layerbot:summary -->" in block
    assert "```suggestion:-" in block


@pytest.fixture
def readme_copy(tmp_path: Path) -> Iterator[Path]:
    copy = tmp_path / "README.md"
    shutil.copy(ROOT / "README.md", copy)
    yield copy


@pytest.mark.skipif(
    not (shutil.which("chromium") or shutil.which("chromium-browser")),
    reason="chromium is not installed (apt-get install -y chromium)",
)
def test_render_review_screenshots_the_review(readme_copy: Path, tmp_path: Path) -> None:
    png, page = tmp_path / "review.png", tmp_path / "review.html"
    result = subprocess.run(
        [
            sys.executable,
            "docs/render_review.py",
            "--readme",
            str(readme_copy),
            "--html",
            str(page),
            "--png",
            str(png),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = page.read_text()
    assert "Apply suggestion" in html and "layerbot review" in html
    assert readme_copy.read_text() == README
