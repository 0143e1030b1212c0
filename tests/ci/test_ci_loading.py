"""Loading .gitlab-ci.yml: safe YAML, includes, extends, !reference, defaults and variables."""

from __future__ import annotations

import pytest

from layerbot.analysis.ci_script import MAX_EXPANDED_LENGTH
from layerbot.analysis.ci_yaml import MAX_EXPANDED_NODES, CiYamlError, load_documents
from layerbot.analysis.gitlab_ci import (
    Pipeline,
    ci_jobs_building,
    dockerfiles_built,
    load_pipeline,
)
from layerbot.analysis.model import InputError, RepoView

CI = ".gitlab-ci.yml"


def pipeline(text: str, files: dict[str, str] | None = None) -> Pipeline:
    all_files = {CI: text, **(files or {})}
    return load_pipeline(CI, text, RepoView.from_files(all_files))


def scripts(text: str, job: str, files: dict[str, str] | None = None) -> list[str]:
    found = pipeline(text, files).job(job)
    assert found is not None
    return [line.text for line in found.scripts]


def test_script_lines_keep_their_line_numbers_and_block_styles() -> None:
    text = (
        "build:\n"  # 1
        "  script:\n"  # 2
        "    - echo one\n"  # 3
        "    - |\n"  # 4
        "      docker build \\\n"  # 5
        "        -t x .\n"  # 6
        "    - >\n"  # 7
        "      docker push\n"  # 8
        "      x\n"  # 9
    )
    job = pipeline(text).job("build")
    assert job is not None and job.origin.line == 1
    origins = [(s.origin.line, s.origin.end_line, s.origin.style) for s in job.scripts if s.origin]
    assert origins == [(3, 3, ""), (4, 6, "|"), (7, 9, ">")]
    assert job.scripts[2].text == "docker push x\n"


def test_an_unknown_tag_is_an_error_naming_its_line() -> None:
    with pytest.raises(CiYamlError) as error:
        pipeline("build:\n  script:\n    - !!python/object:os.system [ls]\n")
    assert error.value.line == 3
    assert "not supported" in str(error.value)


def test_a_custom_local_tag_is_refused_too() -> None:
    with pytest.raises(InputError, match="!vault"):
        pipeline("variables:\n  TOKEN: !vault abc\n")


def test_invalid_yaml_names_a_line() -> None:
    with pytest.raises(CiYamlError) as error:
        pipeline("build:\n  script: [unclosed\n  image: x\n")
    assert error.value.line >= 2
    assert "not valid YAML" in str(error.value)


def test_billion_laughs_is_refused_without_expanding_it() -> None:
    """Nine levels of nine aliases would be 9**9 (387 million) strings; the bound refuses it
    after counting each distinct node once."""
    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    with pytest.raises(CiYamlError, match="alias bomb"):
        load_documents("\n".join(levels) + "\n", CI)
    assert MAX_EXPANDED_NODES <= 1_000_000


def test_a_self_referencing_anchor_is_refused() -> None:
    with pytest.raises(CiYamlError, match="refers to itself"):
        load_documents("a: &a [1, *a]\n", CI)


def test_deep_nesting_is_refused_not_a_recursion_crash() -> None:
    with pytest.raises(CiYamlError, match="nest"):
        load_documents("a: " + "[" * 5000 + "]" * 5000 + "\n", CI)


def test_anchors_and_merge_keys_expand_with_explicit_keys_winning() -> None:
    text = (
        ".docker: &docker\n"
        "  image: docker:24.0.5\n"
        "  script: [echo template]\n"
        "build:\n"
        "  <<: *docker\n"
        "  script: [docker build -t x .]\n"
    )
    job = pipeline(text).job("build")
    assert job is not None
    assert job.image == "docker:24.0.5"
    assert [s.text for s in job.scripts] == ["docker build -t x ."]


def test_reference_tags_are_resolved_and_nested_lists_flattened() -> None:
    text = (
        ".login:\n"
        "  script:\n"
        "    - docker login -u u -p p registry\n"
        ".setup:\n"
        "  script:\n"
        "    - !reference [.login, script]\n"
        "    - echo ready\n"
        "build:\n"
        "  script:\n"
        "    - !reference [.setup, script]\n"
        "    - docker build .\n"
    )
    assert scripts(text, "build") == [
        "docker login -u u -p p registry",
        "echo ready",
        "docker build .",
    ]


def test_a_dangling_reference_is_a_note_not_a_crash() -> None:
    text = "build:\n  script:\n    - !reference [.nope, script]\n    - make\n"
    assert scripts(text, "build") == ["make"]
    assert any(".nope" in note.message for note in pipeline(text).notes)


def test_extends_merges_hashes_replaces_arrays_multi_level_and_multi_parent() -> None:
    text = (
        ".base:\n"
        "  image: docker:20.10\n"
        "  variables: {A: base, B: base}\n"
        "  script: [echo base]\n"
        ".middle:\n"
        "  extends: .base\n"
        "  variables: {B: middle}\n"
        ".other:\n"
        "  image: docker:24.0.5\n"
        "  before_script: [echo other]\n"
        "job:\n"
        "  extends: [.middle, .other]\n"
        "  variables: {C: job}\n"
    )
    job = pipeline(text).job("job")
    assert job is not None
    assert job.image == "docker:24.0.5"  # the later parent wins
    assert job.variables == {"A": "base", "B": "middle", "C": "job"}
    assert [s.text for s in job.scripts] == ["echo other", "echo base"]


def test_an_extends_cycle_is_an_error() -> None:
    with pytest.raises(CiYamlError, match="extends cycle"):
        pipeline(".a:\n  extends: .b\n.b:\n  extends: .a\njob:\n  extends: .a\n")


def test_default_and_inherit() -> None:
    text = (
        "variables:\n"
        "  GLOBAL: g\n"
        "  OTHER: o\n"
        "default:\n"
        "  image: docker:24.0.5\n"
        "  before_script: [docker info]\n"
        "one:\n"
        "  script: [docker build .]\n"
        "two:\n"
        "  inherit:\n"
        "    default: false\n"
        "    variables: [GLOBAL]\n"
        "  script: [docker build .]\n"
    )
    loaded = pipeline(text)
    one, two = loaded.job("one"), loaded.job("two")
    assert one is not None and two is not None
    assert one.image == "docker:24.0.5" and one.scripts[0].text == "docker info"
    assert one.variables == {"GLOBAL": "g", "OTHER": "o"}
    assert two.image is None and two.variables == {"GLOBAL": "g"}


def test_hidden_jobs_and_keywords_are_not_jobs() -> None:
    text = "stages: [build]\nworkflow:\n  rules: [{when: always}]\n"
    text += ".t:\n  script: [a]\nj:\n  script: [b]\n"
    assert [job.name for job in pipeline(text).jobs] == ["j"]


def test_local_include_is_merged_and_jobs_remember_their_file() -> None:
    text = "include:\n  - local: ci/build.yml\nvariables:\n  IMAGE: $CI_REGISTRY_IMAGE\n"
    included = "build:\n  script:\n    - docker build -t $IMAGE -f docker/Dockerfile .\n"
    loaded = pipeline(text, {"ci/build.yml": included})
    job = loaded.job("build")
    assert job is not None
    assert job.origin.path == "ci/build.yml" and job.origin.line == 1
    assert job.variables == {"IMAGE": "$CI_REGISTRY_IMAGE"}
    assert dockerfiles_built(loaded) == ["docker/Dockerfile"]
    assert ci_jobs_building(loaded, "docker/Dockerfile") == ["build"]
    assert ci_jobs_building(loaded, "Dockerfile") == []


def test_main_file_overrides_included_keys() -> None:
    text = "include: ci/base.yml\nbuild:\n  image: docker:27\n"
    included = "build:\n  image: docker:20.10\n  script: [docker build .]\n"
    job = pipeline(text, {"ci/base.yml": included}).job("build")
    assert job is not None and job.image == "docker:27" and job.scripts[0].text == "docker build ."


def test_include_cycle_is_an_error_on_the_include_line() -> None:
    text = "stages: [build]\ninclude:\n  - local: a.yml\n"
    with pytest.raises(CiYamlError, match="include cycle") as error:
        pipeline(text, {"a.yml": "include: b.yml\n", "b.yml": "include: a.yml\n"})
    assert error.value.line == 3


def test_remote_project_template_component_includes_are_notes_never_fetched() -> None:
    text = (
        "include:\n"
        "  - remote: https://example.invalid/ci.yml\n"
        "  - project: group/templates\n"
        "    file: docker.yml\n"
        "  - template: Docker.gitlab-ci.yml\n"
        "  - component: $CI_SERVER_FQDN/group/comp/build@1.0\n"
        "  - https://example.invalid/other.yml\n"
    )
    notes = [note.message for note in pipeline(text).notes]
    assert len(notes) == 5
    assert all("not analysed" in note for note in notes)


def test_project_includes_go_through_the_resolver_seam() -> None:
    asked = []

    def resolver(project: str, ref: str | None, file: str) -> str | None:
        asked.append((project, ref, file))
        return "shared:\n  script: [docker build .]\n"

    text = "include:\n  - project: group/templates\n    ref: v1\n    file: [/a.yml]\n"
    loaded = load_pipeline(CI, text, RepoView.from_files({CI: text}), resolver)
    assert asked == [("group/templates", "v1", "/a.yml")]
    assert [job.name for job in loaded.jobs] == ["shared"]


def test_missing_local_include_is_a_note() -> None:
    loaded = pipeline("include: missing.yml\njob:\n  script: [make]\n")
    assert [job.name for job in loaded.jobs] == ["job"]
    assert "missing.yml" in loaded.notes[0].message


def test_a_broken_included_file_names_it() -> None:
    with pytest.raises(CiYamlError, match=r"included file ci/bad.yml line \d+: not valid YAML"):
        pipeline("include: ci/bad.yml\n", {"ci/bad.yml": "a:\n  b: [\n"})


def test_component_spec_header_document_is_skipped() -> None:
    text = "spec:\n  inputs:\n    stage: {default: build}\n---\njob:\n  script: [make]\n"
    assert [job.name for job in pipeline(text).jobs] == ["job"]


def test_variables_mapping_form_and_non_strings() -> None:
    text = "variables:\n  A: {value: '1', description: d}\n  B: 2\n  C: true\njob:\n  script: [x]\n"
    job = pipeline(text).job("job")
    assert job is not None and job.variables == {"A": "1", "B": "2", "C": "true"}


def test_script_given_as_one_string() -> None:
    assert scripts("job:\n  script: docker build .\n", "job") == ["docker build ."]


def test_an_empty_or_comment_only_file_is_an_error_as_in_gitlab() -> None:
    for text in ("", "# nothing here yet\n", "---\n"):
        with pytest.raises(CiYamlError, match="empty"):
            pipeline(text)


def test_a_variable_that_names_itself_twice_expands_within_a_bound() -> None:
    """Each round would double `$A`; expansion stops at MAX_EXPANDED_LENGTH characters."""
    text = "variables:\n  A: $A-$A\njob:\n  script:\n    - docker build -t $A .\n"
    [build] = pipeline(text).builds
    assert len(build.tags[0][1]) <= MAX_EXPANDED_LENGTH


def test_a_command_prefix_assignment_is_not_a_job_variable() -> None:
    text = (
        "job:\n"
        "  image: docker:20.10\n"
        "  script:\n"
        "    - DOCKER_BUILDKIT=1 docker build -t a .\n"
        "    - docker build -t b .\n"
        "    - export TAG=v1\n"
        "    - IMAGE=registry/app; docker build -t $IMAGE:$TAG .\n"
    )
    first, second, third = pipeline(text).builds
    assert (first.buildkit.value, second.buildkit.value) == ("on", "off")
    assert third.tags == [("$IMAGE:$TAG", "registry/app:v1")]
