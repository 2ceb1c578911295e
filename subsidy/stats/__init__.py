"""Figures for the staff home page (and later the supervision dashboard)."""
