"""Moved to :mod:`reference_app.remembered`; kept until ``binding.py`` imports it from there."""

from reference_app.remembered import RememberedPairs as RememberedPairs
