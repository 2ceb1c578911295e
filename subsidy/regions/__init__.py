"""Regions: county → township → village, keyed by official statistical codes."""
