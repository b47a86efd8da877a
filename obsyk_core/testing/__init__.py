"""Conformance suite for storage backends (a pytest plugin)."""
