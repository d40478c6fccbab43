"""`build_app`: one ERP sandbox as an ASGI application (its routes, the admin routes, the layer)."""

from starlette.applications import Starlette
from starlette.middleware import Middleware

from bridge_pipelines.sandbox.erp_base.admin import admin_routes
from bridge_pipelines.sandbox.erp_base.middleware import SandboxMiddleware
from bridge_pipelines.sandbox.erp_base.sandbox import ErpSandbox


def build_app(sandbox: ErpSandbox) -> Starlette:
    """The sandbox's ERP routes plus `/_sandbox/`, behind the request log, limiter and faults."""
    app = Starlette(
        routes=[*admin_routes(sandbox), *sandbox.routes()],
        middleware=[Middleware(SandboxMiddleware, sandbox=sandbox)],
    )
    app.state.sandbox = sandbox
    return app
