"""Pure core: domain model, diff, plan and planner. Standard library and deepdiff only; no I/O."""
