"""The conformance suite: one set of tests every registered ERP connector passes on its sandbox."""
