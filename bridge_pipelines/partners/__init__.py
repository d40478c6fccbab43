"""SYSPRO to partners' SFTP servers: period exports as CSV, X12 and fixed-width files."""
