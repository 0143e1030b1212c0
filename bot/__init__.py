"""The web side: receives GitLab webhooks and enqueues task ids, never calling GitLab itself.

- ``app``: the Flask app factory (``/webhook``, ``/healthz``, ``/metrics``), described in
  ``openapi.yaml``;
- ``webhook``: pure authentication, signature check, payload validation and classification;
- ``dedupe``, ``queue``, ``spool``, ``intake``: exactly-once hand-off to Celery, with a durable
  local spool while the broker is down;
- ``gunicorn_conf`` and ``serve``: the production server and ``layerbot serve``.
"""
