"""Benchmarks of the provider through the real dynamic-provider host (``make bench``).

Never part of the tests' pass or fail; importing this package has no side effects.
"""
