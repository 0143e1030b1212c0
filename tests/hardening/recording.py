"""Where the recording worker (``recording_worker.py``) writes what ran, apart from the worker
module so a test reads the names without building the worker's Celery app at import."""

RAN = "recording-worker:ran"
"""Hash: task id -> how many times it ran."""
ARGS = "recording-worker:args"
"""Hash: task id -> the JSON arguments of its last run."""
