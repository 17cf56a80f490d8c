"""The audit trail: chained run records and the reportability change log."""
