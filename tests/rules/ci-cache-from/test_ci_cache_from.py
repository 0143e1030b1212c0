"""ci-cache-from: builds with no cache source, and the script edits that give them one."""

from __future__ import annotations

from layerbot.analysis.engine import analyse_file
from layerbot.analysis.model import RepoView, Safety
from layerbot.analysis.rules import ci_cache_from
from tests.ci.helpers import fixed_text, job, run_rule

LATEST = "$CI_REGISTRY_IMAGE:latest"


def test_classic_builder_fix_pulls_first_and_keeps_the_push() -> None:
    text = job(f"docker build -t {LATEST} .", f"docker push {LATEST}", image="docker:20.10")
    [finding] = run_rule(ci_cache_from, text)
    assert finding.line == 4 and finding.fix is not None
    assert finding.fix.safety is Safety.SAFE
    assert fixed_text(text, finding).splitlines()[3:] == [
        f"    - docker pull {LATEST} || true",
        f"    - docker build --cache-from {LATEST} --build-arg BUILDKIT_INLINE_CACHE=1"
        f" -t {LATEST} .",
        f"    - docker push {LATEST}",
    ]


def test_buildkit_fix_needs_no_pull() -> None:
    text = job(f"docker build -t {LATEST} .", f"docker push {LATEST}", image="docker:27.3")
    [finding] = run_rule(ci_cache_from, text)
    assert "docker pull" not in fixed_text(text, finding)


def test_the_jobs_own_variable_names_are_kept() -> None:
    text = "variables:\n  TAG_IMAGE: $CI_REGISTRY_IMAGE:$CI_COMMIT_REF_SLUG\n" + job(
        "docker build -t $TAG_IMAGE .", "docker push $TAG_IMAGE"
    )
    [finding] = run_rule(ci_cache_from, text)
    assert "--cache-from $TAG_IMAGE " in fixed_text(text, finding)


def test_a_per_commit_tag_gets_a_branch_tag_pushed_next_to_it() -> None:
    sha = "$CI_REGISTRY_IMAGE:$CI_COMMIT_SHA"
    text = job(f"docker build -t {sha} .", f"docker push {sha}", image="docker:27")
    [finding] = run_rule(ci_cache_from, text)
    assert finding.fix is not None and finding.fix.safety is Safety.REVIEW
    after = fixed_text(text, finding)
    assert "--tag $CI_REGISTRY_IMAGE:$CI_COMMIT_REF_SLUG" in after
    assert after.endswith("    - docker push $CI_REGISTRY_IMAGE:$CI_COMMIT_REF_SLUG\n")


def test_an_image_pushed_by_another_job_is_the_cache_of_a_test_build() -> None:
    text = job(f"docker build -t {LATEST} .", f"docker push {LATEST}") + (
        "mr-build:\n  image: docker:24.0.5\n  script:\n    - docker build -t app:test .\n"
    )
    findings = run_rule(ci_cache_from, text)
    test_build = next(f for f in findings if f.line == 9)
    assert f"--cache-from {LATEST}" in fixed_text(text, test_build)


def test_an_image_that_is_never_pushed_gets_no_fix() -> None:
    [finding] = run_rule(ci_cache_from, job("docker build -t app:test ."))
    assert finding.fix is None


def test_existing_cache_and_no_cache_builds_are_fine() -> None:
    assert run_rule(ci_cache_from, job(f"docker build --cache-from {LATEST} -t x .")) == []
    assert run_rule(ci_cache_from, job("docker build --no-cache -t x .")) == []
    assert run_rule(ci_cache_from, job("docker buildx build --cache-to type=inline .")) == []


def test_a_build_chained_after_another_command_gets_flags_but_no_pull_entry() -> None:
    text = job(f"docker info && docker build -t {LATEST} . && docker push {LATEST}")
    [finding] = run_rule(ci_cache_from, text)
    assert fixed_text(text, finding).count("\n") == text.count("\n")
    broken_classic = job(
        f"docker info && docker build -t {LATEST} . && docker push {LATEST}",
        image="docker:19.03",
    )
    [classic] = run_rule(ci_cache_from, broken_classic)
    assert classic.fix is None  # a pull cannot go safely in the middle of a chain


def test_a_flow_sequence_script_still_gets_the_flags() -> None:
    script = f'["docker build -t {LATEST} .", "docker push {LATEST}"]'
    text = f"build:\n  image: docker:27\n  script: {script}\n"
    [finding] = run_rule(ci_cache_from, text)
    assert f'"docker build --cache-from {LATEST}' in fixed_text(text, finding)


def test_compose_builds_are_reported_with_guidance_and_no_fix() -> None:
    [finding] = run_rule(ci_cache_from, job("docker-compose build web"))
    assert "cache_from" in finding.message and finding.fix is None


def test_cache_mounts_in_the_dockerfile_are_called_out() -> None:
    dockerfile = "FROM golang:1.22\nRUN --mount=type=cache,target=/go/pkg/mod go build .\n"
    [finding] = run_rule(ci_cache_from, job("docker build -t x ."), {"Dockerfile": dockerfile})
    assert "--mount=type=cache" in finding.message and "new every job" in finding.message
    [plain] = run_rule(ci_cache_from, job("docker build -t x ."), {"Dockerfile": "FROM a\n"})
    assert "mount" not in plain.message


def test_a_template_build_is_reported_once_naming_every_job_that_runs_it() -> None:
    text = (
        ".build:\n"  # 1
        "  image: docker:24.0.5\n"  # 2
        "  script:\n"  # 3
        f"    - docker build -t {LATEST} .\n"  # 4
        "api:\n"  # 5
        "  extends: .build\n"  # 6
        "# layerbot ignore=ci-cache-from\n"  # 7
        "web:\n"  # 8
        "  extends: .build\n"  # 9
    )
    [finding] = run_rule(ci_cache_from, text)
    assert finding.line == 4 and "jobs `api`, `web`" in finding.message
    report = analyse_file(".gitlab-ci.yml", text, RepoView.from_files({}))
    assert report.findings == []  # the ignore above one job covers the shared line


def test_a_registry_cache_is_named_after_the_image_a_variable_hides() -> None:
    text = "variables:\n  IMAGE: $CI_REGISTRY_IMAGE/app:$CI_COMMIT_REF_SLUG\n" + job(
        "docker buildx build --push -t $IMAGE .", before=("docker buildx create --use",)
    )
    [finding] = run_rule(ci_cache_from, text)
    assert finding.fix is not None and finding.fix.safety is Safety.REVIEW
    cache = "$CI_REGISTRY_IMAGE/app:buildcache"
    assert (
        f"--cache-from type=registry,ref={cache} --cache-to type=registry,ref={cache},mode=max"
        in fixed_text(text, finding)
    )


def test_buildah_layers_from_the_environment_count() -> None:
    cache = "--cache-from $CI_REGISTRY_IMAGE/cache --cache-to $CI_REGISTRY_IMAGE/cache"
    on = "variables:\n  BUILDAH_LAYERS: 'true'\n" + job(f"buildah bud {cache} -t app .")
    assert run_rule(ci_cache_from, on) == []
    uncached = "variables:\n  BUILDAH_LAYERS: 'true'\n" + job(f"buildah bud -t {LATEST} .")
    [finding] = run_rule(ci_cache_from, uncached)
    assert "--layers" not in fixed_text(uncached, finding).splitlines()[-1]
    assert cache in fixed_text(uncached, finding)
