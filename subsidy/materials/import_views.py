"""Pages of the signed list's .xlsx (routes on the materials blueprint)."""
from __future__ import annotations
