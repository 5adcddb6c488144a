"""Plan step payload classes, one module per family; ``core.plan_payloads`` is their registry."""
