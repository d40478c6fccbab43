"""A throwaway ERP written in the tests: proof that a connector is one package and one line.

"Throwaway Books" is a made-up ERP with a small JSON API: a login answering a session token
(sent back as the `TWSESSION` cookie, expiring after idle minutes on the sandbox clock), paged
vendor, account and cost-center lists, bills and credit notes carrying our reference, a lookup
by reference. Its folder has what a built-in connector has, in the same shape: `settings.py`
(an `ErpSettings` model with one setting of its own), `client.py` (a `SessionClient` dialect),
`adapter.py` (an `AdapterBase` adapter and its factory), `plugin.py` (the `ErpPlugin`),
`sandbox.py` (its sandbox on the shared base) and `profile.py` (its `SandboxProfile`).

`bridge_pipelines_tests/erps/conftest.py` registers it with one `registry.register(PLUGIN)`,
and the conformance suite, written for the registry and never naming an ERP, runs it as it runs
the built-in connectors.
"""
