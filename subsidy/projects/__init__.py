"""Subsidy projects defined by the county."""
