"""Alembic environment: runs on the connection handed over by ``storage.db``."""

from alembic import context
from sqlalchemy import Connection

from storage.db import migration_options
from storage.errors import StorageError


def run_migrations() -> None:
    if context.is_offline_mode():
        raise StorageError("offline (--sql) migrations are not supported; pass a connection")
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise StorageError("no database connection: run migrations through storage.db.upgrade")
    context.configure(connection=connection, **migration_options(connection))
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
