"""The Celery side: tasks (thin), review, fetch, comments (the pure plan), commands, and the
GitLab client (everything that talks to GitLab). It imports the engine (``layerbot``), never the
web side (``bot``).
"""
