"""Prometheus counters of the worker side: GitLab API traffic and review outcomes.

They live in the default registry of the process that does the work (a worker, or the one-shot
``layerbot review``); the benchmark and the tests also read the per-client tallies that
:class:`~workers.gitlab_client.GitLabClient` keeps.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

GITLAB_CALLS = Counter(
    "layerbot_gitlab_api_calls_total",
    "GitLab API requests sent, by endpoint template and outcome.",
    ["method", "endpoint", "status"],
)
GITLAB_LATENCY = Histogram(
    "layerbot_gitlab_api_latency_seconds",
    "GitLab API request latency, by endpoint template.",
    ["method", "endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
REVIEWS = Counter(
    "layerbot_reviews_total",
    "Merge-request reviews by outcome (done, failed, dropped).",
    ["outcome"],
)
REVIEWS_DROPPED = Counter(
    "layerbot_reviews_dropped_total",
    "Reviews dropped on purpose, by reason (closed, merged, stale head, missing).",
    ["reason"],
)
NOTES_POSTED = Counter(
    "layerbot_notes_posted_total",
    "Notes the bot created or edited, by kind (inline, summary, reply, command).",
    ["kind"],
)
COMMANDS = Counter(
    "layerbot_commands_total",
    "Note commands handled, by command and outcome.",
    ["command", "outcome"],
)
