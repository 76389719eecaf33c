"""Generators of longitudinal records (patients over time, long format)."""
