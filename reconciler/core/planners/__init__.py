"""The per-tenant planners: projects, branches, API keys and removed tenants.

``reconciler.core.planner.build_plan`` runs them and orders what they produce.
"""
