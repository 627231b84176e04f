"""Benchmarks of the real daemon against real local control planes, each next to its floor.

Run with ``python -m tests.bench`` (``make bench``); never part of the default test run.
"""
