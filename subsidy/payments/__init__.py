"""Disbursement (issue 7): payment batches, the bank's files, reconciliation, receipt checks."""
