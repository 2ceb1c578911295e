"""Disbursement: payment batches, the bank's files, reconciliation, receipt checks."""
