"""Pieces every ERP sandbox shares: the HTTP scaffolding, state on disk, admin routes, faults.

An ERP sandbox subclasses `ErpSandbox` (its routes, its seed and its own answers to faults) and
`build_app` wraps it with the request log, the rate limiter and the fault engine; `start_sandbox`
runs it under uvicorn on a free loopback port in its own process.
"""
