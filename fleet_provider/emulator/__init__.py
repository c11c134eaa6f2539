"""A local emulator of Kibana's Fleet enrollment API keys HTTP API.

What it emulates, per Kibana release (patch included: ``versions.py``): the enrollment-key
routes (create, list with ``kuery``, get, revoke/delete, ``_bulk_delete`` from 9.5) under
``/api`` and ``/s/{space}/api``;
Kibana's order of checks (authentication, ``kbn-xsrf``, ``kbn-version``, privileges,
``elastic-api-version``, request validation) and its exact error bodies; core's default
security headers on every answer (``security_headers.py``); the stored
key document (decorated name, base64 ``api_key``, ``created_at``, ``hidden``,
``expire_at``); the per-policy duplicate-name rule; space isolation, and moving a policy
with its keys to other spaces (9.1+); the agent-policy, space and status routes a client
needs around them; ``server.basePath`` with ``rewriteBasePath``; core's generic 404 and
the UI pages a browser URL leads to; and test controls under ``/_emulator`` (fault
injection, request counters, reset).

What it does not reproduce: Elasticsearch itself (API keys are random strings, never
really created or invalidated; of its failures only those Kibana's own requests cause: paging
past the result window, a duplicate-name search Lucene cannot parse, an expiry past its
ceiling), Fleet Server and Elastic Agents (no enrollment, no agent counts), the rest
of Kibana and of the agent-policy API (integrations, outputs, copies, bulk routes),
strict-KQL subtleties beyond the key fields, the space
awareness migration state (spaces behave as on a new cluster of that version), and
Kibana's real roles (four fixed roles stand in for role definitions: ``auth.py``).
"""

from .server import EmulatorServer

__all__ = ["EmulatorServer"]
