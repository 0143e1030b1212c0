"""Analysis throughput and start-up: ``layerbot check`` against ``hadolint``, same files, same run.

Two ways each tool is called in practice: one command over all files (a CI job over a
monorepo) and one command per file (pre-commit, one job per image). Over many files each tool
uses every core: hadolint with threads, layerbot with a forked worker per core (64 files or
more on 2 cores); the CPU time, children included, is recorded beside the wall time. layerbot
runs with
``--format json``, so every fix's diff is computed too. The start-up figure is one small
Dockerfile checked by a whole process, in a repository without and with a CI configuration
(which the check reads for the build context).

layerbot runs as a user has it: a normal (not editable) installation with its bytecode
compiled. The checkout's development environment is an editable installation, whose import
hook costs every interpreter start in it about 13 ms; no user's installation has that.
"""

from __future__ import annotations

import compileall
import random
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import venv
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from bench.measure import median, run_process

ROOT = Path(__file__).resolve().parents[1]
# The goals of issue 13: ten times hadolint's files per second in one process, and one file
# checked by a whole process in 50 ms.
GOAL_RATIO_ONE_PROCESS = 10.0
GOAL_START_MS = 50.0


@contextmanager
def installed_layerbot() -> Iterator[list[str]]:
    """The ``layerbot`` command of a throwaway environment laid out as ``pip install`` leaves
    it: the package's files with their bytecode, a console script, and the dependencies of
    this environment reached by a path entry (not as a site folder, so its editable hook is
    not loaded). Yields ``[python, script]``: run as is, or with interpreter options between."""
    with tempfile.TemporaryDirectory() as folder:
        environment, packages = Path(folder) / "venv", Path(folder) / "packages"
        venv.EnvBuilder(with_pip=False).create(environment)
        shutil.copytree(
            ROOT / "layerbot", packages / "layerbot", ignore=shutil.ignore_patterns("__pycache__")
        )
        compileall.compile_dir(str(packages), quiet=1)
        python = environment / "bin" / "python"
        site = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        ours = sysconfig.get_path("purelib")
        Path(site, "layerbot-bench.pth").write_text(f"{packages}\n{ours}\n", encoding="utf-8")
        script = environment / "bin" / "layerbot"
        script.write_text(
            f"#!{python}\nimport sys\nfrom layerbot.cli import main\nsys.exit(main())\n",
            encoding="utf-8",
        )
        yield [str(python), str(script)]


def hadolint_command() -> str | None:
    """The hadolint binary (the test extra installs one beside the interpreter), if any."""
    found = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    return found if Path(found).exists() else None


def _hadolint() -> list[str] | None:
    found = hadolint_command()
    return [found, "--no-fail", "-f", "json"] if found else None


def one_process(command: Sequence[str], files: Sequence[Path], repeats: int) -> dict[str, float]:
    runs = [run_process([*command, *map(str, files)]) for _ in range(repeats)]
    seconds = median([run.seconds for run in runs])
    return {
        "files": len(files),
        "seconds": seconds,
        "cpu_seconds": median([run.cpu_seconds for run in runs]),
        "files_per_s": len(files) / seconds,
        "peak_rss_mb": max(run.peak_rss_kb for run in runs) / 1024,
    }


def per_file(command: Sequence[str], files: Sequence[Path]) -> dict[str, float]:
    runs = [run_process([*command, str(path)]) for path in files]
    latencies = [run.seconds for run in runs]
    return {
        "files": len(files),
        "median_ms": median(latencies) * 1000,
        "files_per_s": len(files) / sum(latencies),
        "peak_rss_mb": max(run.peak_rss_kb for run in runs) / 1024,
    }


def compare(
    layerbot_cli: list[str], name: str, files: Sequence[Path], repeats: int, sample: int
) -> dict[str, object]:
    """Both tools, both ways, on ``files``; the per-file runs use a seeded sample.
    ``layerbot_cli`` is the command :func:`installed_layerbot` gives."""
    hadolint = _hadolint()
    layerbot = [*layerbot_cli, "check", "--format", "json"]
    picked = random.Random(7).sample(list(files), min(sample, len(files)))
    result: dict[str, object] = {
        "corpus": name,
        "files": len(files),
        "per_file_sample": len(picked),
    }
    # Interleave the tools so a noisy neighbour hurts both alike.
    result["layerbot_one_process"] = one_process(layerbot, files, repeats)
    if hadolint:
        result["hadolint_one_process"] = one_process(hadolint, files, repeats)
    result["layerbot_per_file"] = per_file(layerbot, picked)
    if hadolint:
        result["hadolint_per_file"] = per_file(hadolint, picked)
        for mode in ("one_process", "per_file"):
            ours = result[f"layerbot_{mode}"]
            theirs = result[f"hadolint_{mode}"]
            assert isinstance(ours, dict) and isinstance(theirs, dict)
            result[f"ratio_{mode}"] = ours["files_per_s"] / theirs["files_per_s"]
    return result


START_DOCKERFILE = """\
FROM python:3.12-slim
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends curl
COPY . .
RUN pip install -r requirements.txt
CMD ["gunicorn", "app:app"]
"""
NO_CACHE = ["--no-cache"]
START_CI = "build:\n  image: docker:27\n  script:\n    - docker build -t $CI_REGISTRY_IMAGE .\n"


def _import_ms(layerbot_cli: list[str], cwd: str, options: list[str]) -> float:
    """What ``layerbot check Dockerfile`` spends importing (the sum of ``-X importtime``'s own
    times, the interpreter's start-up modules included)."""
    python, script = layerbot_cli
    argv = [python, "-X", "importtime", script, "check", *options, "Dockerfile"]
    stderr = subprocess.run(argv, cwd=cwd, capture_output=True, text=True).stderr
    own = re.findall(r"^import time:\s+(\d+) \|", stderr, re.MULTILINE)
    return sum(int(micros) for micros in own) / 1000


def cli_start(layerbot_cli: list[str], repeats: int) -> dict[str, object]:
    """One Dockerfile checked by a whole process, layerbot and hadolint interleaved (and a
    bare interpreter start of the same environment, the floor under any Python command),
    medians over ``repeats``."""
    hadolint = hadolint_command()
    cases = []
    for label, files, options in (
        ("repository without CI configuration", {}, []),
        # Every check after the first finds the CI configuration's facts kept.
        ("repository with .gitlab-ci.yml, facts kept", {".gitlab-ci.yml": START_CI}, []),
        # As the first check after each edit of it: the pipeline loaded from YAML again.
        ("repository with .gitlab-ci.yml, --no-cache", {".gitlab-ci.yml": START_CI}, NO_CACHE),
    ):
        layerbot = [*layerbot_cli, "check", "--format", "text", *options]
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / ".git").mkdir()
            files = {"Dockerfile": START_DOCKERFILE, "requirements.txt": "flask\n", **files}
            for name, text in files.items():
                (Path(folder) / name).write_text(text, encoding="utf-8")
            commands = {
                "layerbot": [*layerbot, "Dockerfile"],
                "python": [layerbot_cli[0], "-c", "pass"],
            }
            if hadolint:
                commands["hadolint"] = [hadolint, "--no-fail", "Dockerfile"]
            times: dict[str, list[float]] = {name: [] for name in commands}
            cpu: dict[str, list[float]] = {name: [] for name in commands}
            for _ in range(repeats):
                for name, argv in commands.items():
                    run = run_process(argv, cwd=folder)
                    times[name].append(run.seconds * 1000)
                    cpu[name].append(run.cpu_seconds * 1000)
            case: dict[str, object] = {"case": label, "repeats": repeats}
            case.update({f"{name}_ms": median(values) for name, values in times.items()})
            case.update({f"{name}_cpu_ms": median(values) for name, values in cpu.items()})
            case["layerbot_import_ms"] = _import_ms(layerbot_cli, folder, options)
            cases.append(case)
    return {"goal_ms": GOAL_START_MS, "cases": cases}
