"""The fault matrix's harness: real services, one tenant per case, passes of the real pipeline.

`world.World` and `world.Case` set up tenants on sshd, the ERP sandboxes and a PostgreSQL
ledger; `driver` runs one pass (sensor ticks and the runs they request) in a forked process a
kill point may end; `world.Audit` is the verdict. The fault tests and the soak bench both drive
it, so nothing here imports pytest. Like the rest of `sandbox`, only the demo, the tests and the
benchmarks may import it.
"""
