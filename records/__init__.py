"""The service's records in its own database: the tables, the audit trail, tasks, the read model of cases, the
idempotency keys. Activities, jobs, routes and pages all write and read through here; it imports only the pure
``engine`` and ``reviews`` models and vocabulary (see docs/architecture.md)."""
