"""Alembic environment for the ledger.

`Ledger.migrate()` passes its own connection (already inside a locked transaction) through
`config.attributes["connection"]`; from a shell the URL comes from `-x url=...`.
"""

import sqlalchemy as sa
from alembic import context

from bridge_pipelines.ledger.tables import metadata


def _configure(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run() -> None:
    config = context.config
    if context.is_offline_mode():
        context.configure(
            url=context.get_x_argument(as_dictionary=True)["url"],
            target_metadata=metadata,
            literal_binds=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    engine = sa.create_engine(context.get_x_argument(as_dictionary=True)["url"])
    try:
        with engine.connect() as connection:
            _configure(connection)
    finally:
        engine.dispose()


_run()
