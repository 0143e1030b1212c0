"""Image references read with Docker's grammar and normalisation (distribution/reference)."""

from __future__ import annotations

import pytest

from layerbot.analysis.image_ref import parse_image


@pytest.mark.parametrize(
    ("reference", "name", "tag", "digest", "repository"),
    [
        ("golang", "golang", None, None, "golang"),
        ("golang:1.22-alpine", "golang", "1.22-alpine", None, "golang"),
        ("docker.io/library/node:20", "docker.io/library/node", "20", None, "node"),
        (
            "index.docker.io/bitnami/redis:7",
            "index.docker.io/bitnami/redis",
            "7",
            None,
            "bitnami/redis",
        ),
        (
            "localhost:5000/team/app:v1",
            "localhost:5000/team/app",
            "v1",
            None,
            "localhost:5000/team/app",
        ),
        ("alpine@sha256:abc", "alpine", None, "sha256:abc", "alpine"),
        (
            "registry.example.com:5000/app:1.0@sha256:abc",
            "registry.example.com:5000/app",
            "1.0",
            "sha256:abc",
            "registry.example.com:5000/app",
        ),
    ],
)
def test_image_references(
    reference: str, name: str, tag: str | None, digest: str | None, repository: str
) -> None:
    image = parse_image(reference)
    assert (image.name, image.tag, image.digest, image.repository) == (
        name,
        tag,
        digest,
        repository,
    )


@pytest.mark.parametrize(
    "spelling",
    [
        "golang",
        "golang:latest",
        "library/golang",
        "docker.io/golang",
        "docker.io/library/golang:latest",
        "index.docker.io/library/golang",
    ],
)
def test_every_spelling_of_an_official_image_is_one_image(spelling: str) -> None:
    image = parse_image(spelling)
    assert image.canonical_name == "docker.io/library/golang"
    assert image.key == "docker.io/library/golang:latest"


@pytest.mark.parametrize(
    ("reference", "domain", "path"),
    [
        ("user/app", "docker.io", "user/app"),
        ("localhost/app", "localhost", "app"),
        ("registry.gitlab.com/group/project/app:main", "registry.gitlab.com", "group/project/app"),
        ("registry:5000/app", "registry:5000", "app"),
        ("$CI_REGISTRY_IMAGE/app:$CI_COMMIT_REF_SLUG", "$CI_REGISTRY_IMAGE", "app"),
    ],
)
def test_the_registry_is_the_first_component_only_when_it_looks_like_a_host(
    reference: str, domain: str, path: str
) -> None:
    image = parse_image(reference)
    assert (image.domain, image.path) == (domain, path)


def test_a_port_is_not_a_tag() -> None:
    image = parse_image("registry:5000/app")
    assert (image.tag, image.tag_or_latest, image.key) == (
        None,
        "latest",
        "registry:5000/app:latest",
    )


@pytest.mark.parametrize(
    ("reference", "official"),
    [
        ("python:3.12", "python"),
        ("docker.io/library/python", "python"),
        ("mirror.gcr.io/library/python:3.12", "python"),
        ("bitnami/python", None),
        ("registry.example.com/team/python", None),
    ],
)
def test_official_images_are_known_through_mirrors(reference: str, official: str | None) -> None:
    assert parse_image(reference).official_name == official
