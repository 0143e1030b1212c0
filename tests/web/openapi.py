"""Check the app's answers against the OpenAPI description it ships (``bot/openapi.yaml``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SPEC_PATH = Path(__file__).resolve().parents[2] / "bot" / "openapi.yaml"


@cache
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text())
    return loaded


def _validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({**schema, "components": spec()["components"]})


@cache
def _response_validator(path: str, method: str, status: str) -> jsonschema.Draft202012Validator:
    responses = spec()["paths"][path][method]["responses"]
    assert status in responses, f"{method.upper()} {path} answered undocumented {status}"
    response = responses[status]
    if "$ref" in response:
        response = spec()["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    return _validator(response["content"]["application/json"]["schema"])


def check_response(path: str, method: str, status: int, body: Any) -> None:
    """The status is documented for the operation and the JSON body fits its schema."""
    _response_validator(path, method, str(status)).validate(body)


def check_request(payload: Any) -> None:
    """A webhook body fits the documented request schema."""
    operation = spec()["paths"]["/webhook"]["post"]
    _validator(operation["requestBody"]["content"]["application/json"]["schema"]).validate(payload)
