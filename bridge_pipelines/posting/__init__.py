"""Exactly-once posting: deterministic references and the engine that drives any ERP adapter."""
