"""layerbot: reviews Dockerfiles and GitLab CI configs for faster, smaller builds.

- ``analysis``: the pure engine (text and a repository view in, findings and fixes out);
- ``cli``, ``check``, ``docs``: the command line and the rule documentation generator;
- ``settings``, ``celery_app``, ``health``: what the web side (``bot``) and the Celery side
  (``workers``) share, so neither imports the other.
"""

from __future__ import annotations


def version() -> str:
    """The installed distribution's version (``0+unknown`` from a bare checkout)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as distribution_version

    try:
        return distribution_version("layerbot")
    except PackageNotFoundError:
        return "0+unknown"
