"""Presentation: plans, apply summaries and progress, history, drift, usage tables and charts.

Below every use case (render never imports app, apply or observe): what it shows of an apply
it reads through small Protocols (``render.output``).
"""
