"""Helpers shared by every area: model base and types, time, money, masking, pagination, xlsx."""
