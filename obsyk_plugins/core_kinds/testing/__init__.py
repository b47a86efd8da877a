"""Test fixtures for the core kinds: realistic raw Kubernetes objects (:mod:`.samples`).

Not used by the product itself: the tests, the benchmarks and the demo data
of ``obsyk serve --demo`` import them from here.
"""
