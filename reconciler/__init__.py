"""neon-fleet: a declarative GitOps reconciler for tenant fleets on Neon Postgres."""

__version__ = "0.1.0"
