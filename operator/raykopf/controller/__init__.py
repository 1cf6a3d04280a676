"""kopf glue and the work queue: kopf only delivers events; reconciliation is level-triggered per key."""
