"""Pure desired-state builders: parsed models and the operator config in, Kubernetes dicts out."""
