"""ERP adapters: one folder per ERP behind the protocol of `base.py`, chosen by `registry.py`."""
