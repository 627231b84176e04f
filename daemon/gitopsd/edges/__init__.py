"""The only place that talks to the world: Kubernetes, Git, renderers, telemetry.

Foreign errors are translated into ``gitopsd.errors`` here.
"""
