"""Partner file writers: CSV, fixed-width and ANSI X12 004010 (810, 830)."""
