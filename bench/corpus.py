"""Benchmark inputs: the project's own Dockerfile corpus and generated files of realistic shape.

Generated files are deterministic (seeded) so two runs measure the same work. Their shapes
follow what public projects write: one or two stages, a package install, manifests copied
before or after the sources, a build step, runtime settings.
"""

from __future__ import annotations

import random
from pathlib import Path

from layerbot.analysis.discovery import DOCKERFILE, discover, file_kind

ROOT = Path(__file__).resolve().parents[1]

_ECOSYSTEMS = {
    "go": {
        "images": ["golang:1.22", "golang:1.21-alpine", "golang:latest", "golang"],
        "manifests": "COPY go.mod go.sum ./",
        "deps": "RUN go mod download",
        "build": "RUN CGO_ENABLED=0 go build -o /out/app ./cmd/app",
        "cmd": 'CMD ["/out/app"]',
    },
    "node": {
        "images": ["node:20", "node:20-alpine", "node:latest", "node:18-slim"],
        "manifests": "COPY package.json package-lock.json ./",
        "deps": "RUN npm ci",
        "build": "RUN npm run build",
        "cmd": 'CMD ["node", "dist/server.js"]',
    },
    "python": {
        "images": ["python:3.12-slim", "python:3.11", "python:latest", "python:3.12"],
        "manifests": "COPY requirements.txt ./",
        "deps": "RUN pip install -r requirements.txt",
        "build": "RUN python -m compileall -q .",
        "cmd": 'CMD ["gunicorn", "app:app", "-b", "0.0.0.0:8000"]',
    },
    "java": {
        "images": ["maven:3.9-eclipse-temurin-21", "maven:latest", "eclipse-temurin:21"],
        "manifests": "COPY pom.xml ./",
        "deps": "RUN mvn -B dependency:go-offline",
        "build": "RUN mvn -B package -DskipTests",
        "cmd": 'CMD ["java", "-jar", "target/app.jar"]',
    },
    "ruby": {
        "images": ["ruby:3.3", "ruby:3.3-slim", "ruby:latest"],
        "manifests": "COPY Gemfile Gemfile.lock ./",
        "deps": "RUN bundle install",
        "build": "RUN bundle exec rake assets:precompile",
        "cmd": 'CMD ["bundle", "exec", "puma"]',
    },
}

_PACKAGES = {
    "apt": [
        "RUN apt-get update && apt-get install -y curl ca-certificates",
        "RUN apt-get update\nRUN apt-get install -y --no-install-recommends git \\\n"
        "    build-essential \\\n    && rm -rf /var/lib/apt/lists/*",
        "RUN apt-get update && apt-get install -y --no-install-recommends tini \\\n"
        "    && rm -rf /var/lib/apt/lists/*",
    ],
    "apk": [
        "RUN apk update && apk add --no-cache ca-certificates",
        "RUN apk add git make\nRUN rm -rf /var/cache/apk/*",
        "RUN apk add --no-cache tzdata",
    ],
}


def _dockerfile(rng: random.Random) -> str:
    eco = _ECOSYSTEMS[rng.choice(sorted(_ECOSYSTEMS))]
    image = rng.choice(eco["images"])
    family = "apk" if "alpine" in image else "apt"
    lines = ["# syntax=docker/dockerfile:1"] if rng.random() < 0.3 else []
    multi = rng.random() < 0.4
    lines += [f"FROM {image}" + (" AS builder" if multi else ""), "WORKDIR /app"]
    lines += [rng.choice(_PACKAGES[family])]
    if rng.random() < 0.5:
        lines += [eco["manifests"], eco["deps"], "COPY . ."]
    else:
        lines += ["COPY . .", eco["deps"]]
    lines += [eco["build"]]
    for _ in range(rng.randint(0, 4)):
        lines.append(f"ENV FEATURE_{rng.randint(1, 99)}={rng.choice(['on', 'off'])}")
    if multi:
        lines += ["", "FROM debian:bookworm-slim", "WORKDIR /app", "COPY --from=builder /app /app"]
    lines += ["EXPOSE 8080", "USER 10001", eco["cmd"]]
    return "\n".join(lines) + "\n"


def generate(directory: Path, count: int, seed: int = 1) -> list[Path]:
    """Write ``count`` Dockerfiles under ``directory`` (one folder each, as in a monorepo)."""
    rng = random.Random(seed)
    paths = []
    for index in range(count):
        folder = directory / f"svc{index:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "Dockerfile"
        path.write_text(_dockerfile(rng), encoding="utf-8")
        paths.append(path)
    return paths


def project_dockerfiles() -> list[Path]:
    """The Dockerfiles the project's tests and examples hold (the hand-written corpus)."""
    found = [
        path
        for folder in (ROOT / "tests", ROOT / "examples")
        for path in map(Path, discover(str(folder)))
        if file_kind(path.name) == DOCKERFILE
    ]
    return sorted(found)


def realworld_dockerfiles() -> list[Path]:
    """Dockerfiles written after real projects' shapes (``tests/realworld``, ``tests/corpus``)."""
    return [
        path
        for path in project_dockerfiles()
        if path.is_relative_to(ROOT / "tests" / "realworld")
        or path.is_relative_to(ROOT / "tests" / "corpus")
    ]


def dockerfile_of_size(instructions: int) -> str:
    """One long single-stage Dockerfile with ``instructions`` instructions, for scaling runs."""
    rng = random.Random(instructions)
    lines = ["FROM python:3.12-slim", "WORKDIR /app", "COPY requirements.txt ./"]
    lines.append("RUN pip install --no-cache-dir -r requirements.txt")
    choices = [
        lambda i: f"ENV VAR_{i}=value{i}",
        lambda i: f"RUN echo step {i} > /tmp/step{i}",
        lambda i: f"COPY conf/file{i}.cfg /etc/app/file{i}.cfg",
        lambda i: f"LABEL org.example.step{i}=yes",
        lambda i: f"RUN apt-get update && apt-get install -y pkg{i}",
    ]
    while len(lines) < instructions - 1:
        lines.append(rng.choice(choices)(len(lines)))
    lines.append('CMD ["python", "app.py"]')
    return "\n".join(lines[:instructions]) + "\n"


def ci_file_of_size(jobs: int) -> str:
    """A .gitlab-ci.yml with ``jobs`` jobs, each reached through a three-level extends chain."""
    parts = [
        "variables:\n  IMAGE: $CI_REGISTRY_IMAGE\n",
        ".docker:\n  image: docker:27\n  services: [docker:27-dind]\n"
        "  variables:\n    DOCKER_BUILDKIT: '1'\n",
        ".build:\n  extends: .docker\n  stage: build\n"
        "  before_script:\n    - docker login -u $CI_REGISTRY_USER -p $CI_REGISTRY_PASSWORD\n",
        ".push:\n  extends: .build\n  after_script:\n    - docker push $IMAGE:$CI_COMMIT_SHA\n",
    ]
    for index in range(jobs):
        parts.append(
            f"build-{index}:\n  extends: .push\n  script:\n"
            f"    - docker build -t $IMAGE/svc{index}:$CI_COMMIT_SHA -f svc{index}/Dockerfile "
            f"svc{index}\n"
        )
    return "\n".join(parts)


def ci_template_file_of_size(jobs: int) -> str:
    """A .gitlab-ci.yml with ``jobs`` jobs that all run one template's build line (a service
    name in each job's variables): every finding names the jobs that run the line."""
    parts = [
        ".build:\n  image: docker:27\n  services: [docker:27-dind]\n  script:\n"
        "    - docker build --cache-from $CI_REGISTRY_IMAGE/$SVC:latest"
        " -t $CI_REGISTRY_IMAGE/$SVC:latest -f $SVC/Dockerfile $SVC\n"
        "    - docker push $CI_REGISTRY_IMAGE/$SVC:latest\n",
    ]
    for index in range(jobs):
        parts.append(f"build-{index}:\n  extends: .build\n  variables:\n    SVC: svc{index}\n")
    return "\n".join(parts)
