"""Pure decisions: (desired spec, observed children, now) -> actions and the next status."""
