"""`RemoteFakeGitLab`: the `FakeGitLab` Python API for a server running in another process.

Every method listed in `FakeGitLab.REMOTE_OPERATIONS` is forwarded to `POST /__admin/call`
with the same keyword arguments; results come back as JSON (bytes as {"__bytes__": base64},
decoded again here). Positional arguments are mapped to the in-process method's parameters.
"""

from __future__ import annotations

import inspect
import json
import urllib.error
import urllib.request
from typing import Any

from tests.fake_gitlab.server import BOT_TOKEN, BOT_USERNAME, FakeGitLab, from_json, to_json


class RemoteError(RuntimeError):
    """The admin endpoint refused an operation (status and answer attached)."""

    def __init__(self, status: int, answer: Any) -> None:
        super().__init__(f"fake GitLab admin call failed: {status} {answer}")
        self.status = status
        self.answer = answer


class RemoteFakeGitLab:
    """Drive a fake GitLab started with `python -m tests.fake_gitlab` (same API as FakeGitLab)."""

    def __init__(
        self, url: str, *, bot_username: str = BOT_USERNAME, bot_token: str = BOT_TOKEN
    ) -> None:
        self.url = url.rstrip("/")
        self.bot_username = bot_username
        self.bot_token = bot_token

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/__admin/health", timeout=5) as answer:
            result: dict[str, Any] = json.load(answer)
            return result

    def invoke(self, operation: str, kwargs: dict[str, Any]) -> Any:
        data = json.dumps({"operation": operation, "kwargs": to_json(kwargs)}).encode()
        request = urllib.request.Request(
            f"{self.url}/__admin/call",
            data=data,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return from_json(json.load(answer)["result"])
        except urllib.error.HTTPError as error:
            raise RemoteError(error.code, error.read().decode(errors="replace")) from None

    def __getattr__(self, name: str) -> Any:
        if name not in FakeGitLab.REMOTE_OPERATIONS:
            raise AttributeError(name)
        signature = inspect.signature(getattr(FakeGitLab, name))

        def call(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(None, *args, **kwargs)
            arguments: dict[str, Any] = {}
            for parameter, value in list(bound.arguments.items())[1:]:
                if signature.parameters[parameter].kind is inspect.Parameter.VAR_KEYWORD:
                    arguments.update(value)
                else:
                    arguments[parameter] = value
            return self.invoke(name, arguments)

        call.__name__ = name
        call.__doc__ = getattr(FakeGitLab, name).__doc__
        return call
