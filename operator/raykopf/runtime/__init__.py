"""Running the operator: connection, kopf, the work queues."""
