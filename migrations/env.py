"""Alembic environment: runs migrations against the URL set by bot.storage.db (or DATABASE_URL)."""

from alembic import context
from sqlalchemy import text

from bot.settings import get_settings
from bot.storage.db import make_engine
from bot.storage.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url") or get_settings().database_url

if context.is_offline_mode():
    context.configure(
        url=url, target_metadata=Base.metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                # Two gateways starting at once on one database: the second waits here until
                # the first has migrated (and then finds nothing to do), instead of both
                # creating the same tables. Released when this connection closes.
                connection.execute(text("select pg_advisory_lock(727274)"))
                connection.commit()
            context.configure(
                connection=connection, target_metadata=Base.metadata, render_as_batch=True
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()
