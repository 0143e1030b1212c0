"""Hostile Dockerfiles and CI files, by name: what anyone who can open an MR could send."""

from __future__ import annotations

GOOD_DOCKERFILE = b"FROM golang:latest\nWORKDIR /app\nCOPY . .\nRUN go build -o app .\n"


def _anchor_bomb(levels: int = 12) -> bytes:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        refs = ",".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    lines.append(f"build:\n  script: *a{levels - 1}")
    return ("\n".join(lines) + "\n").encode()


def _deep_yaml(depth: int = 5000) -> bytes:
    return b"build:\n  script: " + b"[" * depth + b"1" + b"]" * depth + b"\n"


DOCKERFILES: dict[str, bytes] = {
    "empty": b"",
    "binary": bytes(range(256)) * 64,
    "not-utf8": b"FROM alpine:3.20\nRUN echo \xff\xfe caf\xe9\n",
    "nul-bytes": b"FROM alpine:3.20\nRUN echo a\x00b\n",
    "ten-megabytes": b"FROM alpine:3.20\n" + b"RUN echo padding-line-for-size\n" * 350_000,
    "one-megabyte-line": b"FROM alpine:3.20\nRUN echo " + b"x" * 1_000_000 + b"\n",
    "continuations": b"FROM alpine:3.20\nRUN echo \\\n" + b"  a \\\n" * 100_000 + b"  end\n",
    "unterminated-heredoc": b"FROM alpine:3.20\nRUN <<EOF\necho never closed\n",
    "only-comments": b"# just a comment\n# another\n",
    "unknown-instruction": b"FROM alpine:3.20\nFETCH http://example.invalid/x\n",
}

CI_FILES: dict[str, bytes] = {
    "empty": b"",
    "invalid-yaml": b"build:\n  script: [unclosed\n  - docker build .\n",
    "anchor-bomb": _anchor_bomb(),
    "deep-nesting": _deep_yaml(),
    "ten-megabytes": b"build:\n  script:\n" + b"    - echo padding-line-for-size\n" * 350_000,
    "unknown-tag": b"build:\n  script: !!python/object/apply:os.system ['true']\n",
    "include-cycle": b"include:\n  - local: .gitlab-ci.yml\nbuild:\n  script: [docker build .]\n",
    "remote-include": b"include:\n  - remote: https://example.invalid/ci.yml\n",
    "not-a-mapping": b"- just\n- a list\n",
}
