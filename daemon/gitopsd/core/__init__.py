"""Pure, synchronous, deterministic rules: parsing, diffing, planning, health.

Nothing here performs I/O, reads a clock or draws random numbers; the clock and
randomness are arguments.
"""
