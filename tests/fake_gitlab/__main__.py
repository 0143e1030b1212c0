"""Run the fake GitLab as its own process: `python -m tests.fake_gitlab --port N --state FILE`.

Prints `FAKE_GITLAB_URL=<url>` on stdout once it listens, loads a `snapshot()` JSON from FILE
if it exists, and writes the final state back to FILE on SIGTERM/SIGINT. Drive it from tests
with `RemoteFakeGitLab(url)` (admin endpoints under `/__admin/`).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from tests.fake_gitlab.server import BOT_TOKEN, BOT_USERNAME, FakeGitLab


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fake_gitlab", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--state", type=Path, help="JSON snapshot to load and save on exit")
    parser.add_argument("--seed", type=int, default=0, help="seed for random-rate faults")
    parser.add_argument("--bot-username", default=BOT_USERNAME)
    parser.add_argument("--bot-token", default=BOT_TOKEN)
    args = parser.parse_args(argv)

    fake = FakeGitLab(seed=args.seed, bot_username=args.bot_username, bot_token=args.bot_token)
    if args.state is not None and args.state.exists():
        fake.restore(json.loads(args.state.read_text()))
    url = fake.start(args.host, args.port)
    print(f"FAKE_GITLAB_URL={url}", flush=True)

    stopped = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    stopped.wait()
    fake.stop()
    if args.state is not None:
        args.state.write_text(json.dumps(fake.snapshot()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
