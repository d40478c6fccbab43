"""Master data both ways: ERP master data to Stampli, Stampli vendor changes to the ERP.

`inbound` writes the `/inbound/` CSV files; `sync` reads the ERP, uploads them, and pushes
Stampli vendors to ERP supplier maintenance.
"""
