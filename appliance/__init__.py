"""Classroom Edge appliance: the per-classroom daemon, its config, store, bus, API and features."""

__version__ = "0.1.0"
