"""The ledger: files, records, row errors, batches and audit events; the source of truth."""
