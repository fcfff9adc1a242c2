"""Fixtures for the domain tests: the hand-made routing city (see routing_city.py)."""

from routing_city import city  # noqa: F401  (registers the fixture for this folder)
