"""What the service runs on: settings, the Temporal connection and codec, the worker and its runner, scheduled jobs,
the outbox's sender, logs, what speaks HTTP below the routes (the guard, the refusals' statuses, CSV answers:
the `http_*` modules), the audit trail's anchors and checks, and the
watches on the engine (tampering, orphans, failing effects, replay)."""
