"""No drift between the deployment files and the code they run.

docker-compose.yml, deploy/kubernetes/*.yaml, deploy/Dockerfile, .env.example and the project's
own .gitlab-ci.yml are parsed statically (there is no Docker engine here) and checked against
what the code really reads and serves: the environment variables of ``Settings.from_env``, the
``layerbot`` sub-commands and their options, the serve port, the Flask routes, the image names.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from layerbot.analysis import dockerfile
from layerbot.analysis.discovery import file_kind
from layerbot.cli import build_parser
from layerbot.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
HEALTH_PATH = "/healthz"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


class _RecordingEnv(Mapping[str, str]):
    """An empty environment that remembers every variable asked for."""

    def __init__(self) -> None:
        self.asked: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return default

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.asked.add(key)
        return False

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def settings_variables() -> set[str]:
    env = _RecordingEnv()
    Settings.from_env(env)
    return env.asked


SETTINGS_VARS = settings_variables()


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def manifests() -> list[dict[str, Any]]:
    folder = ROOT / "deploy" / "kubernetes"
    return [doc for path in sorted(folder.glob("*.yaml")) for doc in load_yaml_documents(path)]


def manifest(kind: str, name: str) -> dict[str, Any]:
    found = [m for m in manifests() if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}"
    return found[0]


def containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    return result


def bot_image() -> dockerfile.Dockerfile:
    path = ROOT / "deploy" / "Dockerfile"
    return dockerfile.parse(path.read_text(), "deploy/Dockerfile")


def serve_default_port() -> int:
    port: int = build_parser().parse_args(["serve"]).port
    return port


def gunicorn_variables() -> dict[str, str | None]:
    """Variables bot/gunicorn_conf.py reads, with their literal defaults (read, not imported:
    importing it would set PROMETHEUS_MULTIPROC_DIR in this process)."""
    tree = ast.parse((ROOT / "bot" / "gunicorn_conf.py").read_text())
    found: dict[str, str | None] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("get", "setdefault")
            and ast.unparse(node.func.value) == "os.environ"
            and isinstance(node.args[0], ast.Constant)
        ):
            default = node.args[1] if len(node.args) > 1 else None
            literal = default.value if isinstance(default, ast.Constant) else None
            found[str(node.args[0].value)] = None if literal is None else str(literal)
    return found


def test_settings_reads_the_variables_the_brief_lists() -> None:
    assert {"GITLAB_URL", "GITLAB_TOKEN", "WEBHOOK_SECRET", "REDIS_URL"} <= SETTINGS_VARS


# --- environment variables ------------------------------------------------------------------


def env_example_keys() -> list[str]:
    keys = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keys.append(line.split("=", 1)[0].strip())
    return keys


def test_env_example_lists_every_setting_once() -> None:
    keys = env_example_keys()
    assert len(keys) == len(set(keys))
    assert set(keys) == SETTINGS_VARS


def test_kubernetes_secret_holds_every_setting_with_example_values_only() -> None:
    secret = manifest("Secret", "layerbot-config")
    assert set(secret["stringData"]) == SETTINGS_VARS
    assert "example" in secret["stringData"]["GITLAB_TOKEN"]


def _interpolated(value: Any) -> Iterator[str]:
    """Variables a compose file interpolates (``${NAME}``, ``${NAME:-default}``, ``$NAME``)."""
    if isinstance(value, str):
        for match in re.finditer(r"\$\{?([A-Z_][A-Z0-9_]*)", value):
            yield match.group(1)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _interpolated(item)
    elif isinstance(value, list):
        for item in value:
            yield from _interpolated(item)


def test_compose_uses_only_real_settings() -> None:
    data = compose()
    assert set(_interpolated(data)) <= SETTINGS_VARS
    for name in ("web", "worker"):
        service = data["services"][name]
        assert service["env_file"] == ".env"
        assert set(service.get("environment", {})) <= SETTINGS_VARS


def test_kubernetes_env_uses_only_real_settings() -> None:
    secret_keys = set(manifest("Secret", "layerbot-config")["stringData"])
    for name in ("layerbot-web", "layerbot-worker"):
        for container in containers(manifest("Deployment", name)):
            assert container["envFrom"] == [{"secretRef": {"name": "layerbot-config"}}]
            for variable in container.get("env", []):
                assert variable["name"] in SETTINGS_VARS
                ref = variable["valueFrom"]["secretKeyRef"]
                assert ref["name"] == "layerbot-config" and ref["key"] in secret_keys


# --- commands -------------------------------------------------------------------------------


def _expand(argument: str) -> str:
    """Replace ``${VAR:-x}`` (compose) and ``$(VAR)`` (Kubernetes) with the setting's default."""
    defaults = {"WORKER_CONCURRENCY": str(Settings().worker_concurrency)}
    argument = re.sub(r"\$\{(\w+)(:-[^}]*)?\}", lambda m: defaults[m.group(1)], argument)
    return re.sub(r"\$\((\w+)\)", lambda m: defaults[m.group(1)], argument)


def parse_layerbot(command: list[str]) -> Any:
    """The command's parsed arguments; fails the test when layerbot would reject it."""
    assert command[0] == "layerbot", command
    try:
        return build_parser().parse_args([_expand(arg) for arg in command[1:]])
    except SystemExit:
        pytest.fail(f"`{' '.join(command)}` is not a valid layerbot command line")


def all_bot_commands() -> dict[str, list[str]]:
    services = compose()["services"]
    commands = {f"compose {name}": services[name]["command"] for name in ("web", "worker")}
    for name in ("layerbot-web", "layerbot-worker"):
        for container in containers(manifest("Deployment", name)):
            commands[f"kubernetes {name}"] = container["command"]
    cmd = bot_image().final_stage.of("CMD")[-1].exec_args()
    assert cmd is not None
    commands["Dockerfile CMD"] = cmd
    return commands


def test_every_command_is_a_real_layerbot_subcommand_with_real_options() -> None:
    commands = all_bot_commands()
    expected = {
        "compose web": "serve",
        "compose worker": "worker",
        "kubernetes layerbot-web": "serve",
        "kubernetes layerbot-worker": "worker",
        "Dockerfile CMD": "serve",
    }
    assert {where: parse_layerbot(cmd).command for where, cmd in commands.items()} == expected


def test_worker_concurrency_comes_from_the_setting() -> None:
    worker = compose()["services"]["worker"]["command"]
    assert worker[worker.index("--concurrency") + 1].startswith("${WORKER_CONCURRENCY")
    (container,) = containers(manifest("Deployment", "layerbot-worker"))
    command = container["command"]
    assert command[command.index("--concurrency") + 1] == "$(WORKER_CONCURRENCY)"


# --- ports and health -----------------------------------------------------------------------


def test_ports_agree_with_the_serve_default() -> None:
    port = serve_default_port()
    expose = [i.arguments for i in bot_image().final_stage.of("EXPOSE")]
    assert expose == [str(port)]
    for where, command in all_bot_commands().items():
        args = parse_layerbot(command)
        if args.command == "serve":
            assert args.port == port, where
    web = compose()["services"]["web"]
    assert [mapping.split(":")[-1] for mapping in web["ports"]] == [str(port)]
    (container,) = containers(manifest("Deployment", "layerbot-web"))
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    service = manifest("Service", "layerbot-web")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    bind = gunicorn_variables()["LAYERBOT_BIND"]
    assert bind is not None and bind.rsplit(":", 1)[1] == str(port)


def health_urls() -> dict[str, str]:
    """Every health check URL the deployment files probe."""
    urls = {}
    web = compose()["services"]["web"]
    urls["compose web"] = " ".join(web["healthcheck"]["test"])
    healthcheck = bot_image().final_stage.of("HEALTHCHECK")[-1]
    urls["Dockerfile HEALTHCHECK"] = healthcheck.arguments
    return {where: re.search(r"http://[^'\" ]+", text).group(0) for where, text in urls.items()}  # type: ignore[union-attr]


def test_health_checks_probe_the_flask_health_route_on_the_serve_port() -> None:
    from bot.app import create_app

    app = create_app(Settings(webhook_secret="test-secret"))
    routes = {rule.rule for rule in app.url_map.iter_rules()}
    assert HEALTH_PATH in routes
    port = serve_default_port()
    for where, url in health_urls().items():
        assert url == f"http://127.0.0.1:{port}{HEALTH_PATH}", where
    (container,) = containers(manifest("Deployment", "layerbot-web"))
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": HEALTH_PATH, "port": "http"}
    ingress = manifest("Ingress", "layerbot-web")
    exposed = [p for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    for path in exposed:  # an Exact path is a route, a Prefix path leads to routes
        if path["pathType"] == "Exact":
            assert path["path"] in routes, path
        else:
            assert any(route.startswith(path["path"] + "/") for route in routes), path
    assert "/webhook" in {path["path"] for path in exposed}


# --- images ---------------------------------------------------------------------------------


def test_bot_images_are_built_from_the_deploy_dockerfile_at_the_package_version() -> None:
    services = compose()["services"]
    for name in ("web", "worker"):
        assert services[name]["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}
        assert services[name]["image"] == f"layerbot:{VERSION}"
    images = {
        container["image"]
        for name in ("layerbot-web", "layerbot-worker")
        for container in containers(manifest("Deployment", name))
    }
    assert len(images) == 1
    assert images.pop().endswith(f"/layerbot:{VERSION}")
    ci = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text())
    assert "--file deploy/Dockerfile" in " ".join(ci["build-image"]["script"])


def test_redis_and_python_images_agree_everywhere() -> None:
    ci = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text())
    compose_redis = compose()["services"]["redis"]["image"]
    (k8s_redis,) = containers(manifest("StatefulSet", "layerbot-redis"))
    assert compose_redis == k8s_redis["image"] == ci["test"]["services"][0]["name"]
    bases = {str(stage.image) for stage in bot_image().stages}
    assert bases == {ci["test"]["image"]}


def test_every_image_has_a_pinned_tag() -> None:
    images = [s["image"] for s in compose()["services"].values() if "image" in s]
    images += [
        c["image"] for m in manifests() if "template" in m.get("spec", {}) for c in containers(m)
    ]
    for image in images:
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        assert tag and tag != "latest", image


# --- persistence, scaling, profiles ---------------------------------------------------------


def test_redis_keeps_an_append_only_file_on_a_volume() -> None:
    redis = compose()["services"]["redis"]
    assert redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    volume = redis["volumes"][0].split(":")
    assert volume[1] == "/data" and volume[0] in compose()["volumes"]
    statefulset = manifest("StatefulSet", "layerbot-redis")
    (container,) = containers(statefulset)
    assert container["args"][container["args"].index("--appendonly") + 1] == "yes"
    claim = statefulset["spec"]["volumeClaimTemplates"][0]["metadata"]["name"]
    assert {"name": claim, "mountPath": "/data"} in container["volumeMounts"]
    secret = manifest("Secret", "layerbot-config")["stringData"]
    service = statefulset["spec"]["serviceName"]
    assert f"{statefulset['metadata']['name']}-0.{service}:6379" in secret["REDIS_URL"]


def test_selectors_and_references_match_their_targets() -> None:
    web = manifest("Deployment", "layerbot-web")
    labels = web["spec"]["template"]["metadata"]["labels"]
    assert manifest("Service", "layerbot-web")["spec"]["selector"].items() <= labels.items()
    ingress = manifest("Ingress", "layerbot-web")
    backends = {
        p["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for p in rule["http"]["paths"]
    }
    assert backends == {"layerbot-web"}
    hpa = manifest("HorizontalPodAutoscaler", "layerbot-worker")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "layerbot-worker",
    }
    listed = yaml.safe_load((ROOT / "deploy/kubernetes/kustomization.yaml").read_text())
    on_disk = {p.name for p in (ROOT / "deploy/kubernetes").glob("*.yaml")}
    assert set(listed["resources"]) == on_disk - {"kustomization.yaml"}


def test_flower_is_off_by_default() -> None:
    services = compose()["services"]
    assert services["flower"]["profiles"] == ["flower"]
    assert all("profiles" not in services[name] for name in ("redis", "web", "worker"))


def test_bot_image_runs_as_a_non_root_user() -> None:
    final = bot_image().final_stage
    users = [i.arguments for i in final.of("USER")]
    assert users and not users[-1].startswith(("root", "0"))
    for name in ("layerbot-web", "layerbot-worker"):
        security = manifest("Deployment", name)["spec"]["template"]["spec"]["securityContext"]
        assert security["runAsNonRoot"] is True
        assert str(security["runAsUser"]) == users[-1].split(":")[0]


# --- the project follows its own advice -----------------------------------------------------


@pytest.mark.parametrize(
    "paths", [["deploy/Dockerfile", ".gitlab-ci.yml"], ["deploy/", ".gitlab-ci.yml"]]
)
def test_layerbot_finds_nothing_in_its_own_image_and_pipeline(paths: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "layerbot.cli", "check", *paths],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- pre-commit -----------------------------------------------------------------------------


def test_pre_commit_hooks_select_exactly_the_files_layerbot_analyses() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    names = [
        "Dockerfile",
        "build/Dockerfile.prod",
        "app.Dockerfile",
        "Dockerfile-api",
        "docker/Dockerfile2",
        "Containerfile.arm64",
        "Dockerfile.dockerignore",
        "Dockerfile.template",
        "docs/Dockerfile.md",
        "svc/api.dockerfile",
        "Containerfile",
        ".gitlab-ci.yml",
        "ci/.gitlab-ci.yml",
        "README.md",
        "Dockerfiles/readme.txt",
        "docker-compose.yml",
        "gitlab-ci.yml",
        "x.gitlab-ci.yml",
    ]
    for hook in hooks:
        assert parse_layerbot(hook["entry"].split()).command == "check"
        pattern = re.compile(hook["files"])
        for name in names:
            assert bool(pattern.search(name)) == (file_kind(name) is not None), name
