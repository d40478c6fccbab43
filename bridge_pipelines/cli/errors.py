"""One error handler for every `bridge` command: a line an operator can act on, never a traceback.

Exit status, the same for every command:

- 0 done; 1 the command ran and found something wrong (a failing check, a problem listed);
- 2 it could not run: unknown tenant, posting or file, bad input, a configuration error, the
  ledger, an SFTP server or an ERP unreachable (one line on stderr, naming what);
- 130 interrupted (Ctrl-C); 70 a bug of ours: one line with the error's type, and
  `BRIDGE_DEBUG=1` shows the traceback for a bug report.
"""

import os
import sys
from typing import Any, NoReturn

import click

from bridge_pipelines.errors import BridgeError, TenantConfigError

EXIT_UNUSABLE = 2
EXIT_BUG = 70
EXIT_INTERRUPTED = 130


class NotFoundError(click.ClickException):
    """An unknown tenant, posting, file or invoice named on the command line: exit 2."""

    exit_code = EXIT_UNUSABLE

    def show(self, file: Any = None) -> None:
        click.echo(f"bridge: {self.format_message()}", err=True)


def require_tenant(tenant_id: str) -> None:
    """Refuse a tenant id neither the tenants folder nor the ledger knows (a typo, exit 2).

    A read command on a typo used to report an empty, healthy tenant.
    """
    from pathlib import Path

    from bridge_pipelines.intake.runtime import Runtime
    from bridge_pipelines.tenants.loader import inspect_tenants

    check = inspect_tenants()
    known = {t.id for t in check.tenants}
    if tenant_id in known or tenant_id in Runtime.from_env().ledger.tenants():
        return
    own = [p for p in check.problems if Path(p.file).stem == tenant_id]
    if own:
        raise TenantConfigError(own)
    hint = f" (known: {', '.join(sorted(known))})" if known else ""
    raise NotFoundError(f"no tenant {tenant_id!r}{hint}")


def _one_line(exc: BaseException) -> str:
    from bridge_pipelines.redaction import redact

    text = " ".join(str(exc).split()) or type(exc).__name__
    return redact(text)


def _fail(command: str, message: str, code: int) -> NoReturn:
    click.echo(f"bridge{' ' + command if command else ''}: {message}", err=True)
    sys.exit(code)


class BridgeGroup(click.Group):
    """The top-level group: catches what a command did not, and says it in one line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except SystemExit:
            raise
        except BaseException as exc:
            _handle(ctx.invoked_subcommand or "", exc)


def _handle(command: str, error: BaseException) -> NoReturn:
    """One line (one per problem for a tenant file) and the exit status."""
    if isinstance(error, KeyboardInterrupt):
        _fail(command, "interrupted", EXIT_INTERRUPTED)
    if isinstance(error, BrokenPipeError):
        # `bridge status acme | head`: the reader has enough; say nothing more.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
    if isinstance(error, TenantConfigError):
        # `file: field: message`, as `bridge tenants check` prints them.
        for problem in error.problems:
            click.echo(str(problem), err=True)
        _fail(command, "the tenant file does not validate", EXIT_UNUSABLE)
    if isinstance(error, BridgeError):
        _fail(command, _one_line(error), EXIT_UNUSABLE)
    if os.environ.get("BRIDGE_DEBUG") or not isinstance(error, Exception):
        raise error
    _fail(command, _unexpected(error), _unexpected_code(error))


def _unexpected(exc: Exception) -> str:
    """A line for an error no command expected: the ledger or a file system, else a bug."""
    import sqlalchemy.exc

    if isinstance(exc, sqlalchemy.exc.OperationalError):
        return f"the ledger cannot be reached: {_one_line(exc.orig or exc)}"
    if isinstance(exc, sqlalchemy.exc.SQLAlchemyError):
        return f"ledger error ({type(exc).__name__}): {_one_line(exc).split(' [SQL')[0]}"
    if isinstance(exc, OSError):
        return _one_line(exc)
    if isinstance(exc, ModuleNotFoundError):
        return f"{_one_line(exc)}: not installed here (a ledger URL naming another driver?)"
    return (
        f"internal error ({type(exc).__name__}): {_one_line(exc)[:300]} "
        "(BRIDGE_DEBUG=1 shows the traceback; please report it)"
    )


def _unexpected_code(exc: Exception) -> int:
    import sqlalchemy.exc

    if isinstance(exc, OSError | sqlalchemy.exc.SQLAlchemyError | ModuleNotFoundError):
        return EXIT_UNUSABLE
    return EXIT_BUG
