"""Pure core: domain model, diff, plan and planner. Standard library only; no I/O."""
