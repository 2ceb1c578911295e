"""The household register of each village."""
