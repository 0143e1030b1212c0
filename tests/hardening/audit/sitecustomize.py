"""Imported at start-up by every Python process whose ``PYTHONPATH`` holds this folder (the
worker, ``layerbot serve`` and its gunicorn): with ``LAYERBOT_AUDIT_LOG`` set, an audit hook
appends every outgoing socket connection and name lookup the process makes to that file, one
JSON line each, so a test can prove which hosts the bot talked to."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

_LOG = os.environ.get("LAYERBOT_AUDIT_LOG")


def _address(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_address(part) for part in value[:2]]
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value if isinstance(value, str | int) or value is None else repr(value)


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event == "socket.connect":
        sock, address = args
        entry = {"event": "connect", "family": int(sock.family), "address": _address(address)}
    elif event == "socket.getaddrinfo":
        entry = {"event": "getaddrinfo", "address": [_address(args[0]), _address(args[1])]}
    else:
        return
    entry["pid"] = os.getpid()
    assert _LOG is not None
    with open(_LOG, "a", encoding="utf-8") as log:
        log.write(json.dumps(entry) + "\n")


if _LOG:
    sys.addaudithook(_hook)
