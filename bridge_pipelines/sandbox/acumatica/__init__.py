"""Acumatica contract-based REST sandbox (see app.py)."""
