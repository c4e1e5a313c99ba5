"""message texts, notes encrypted at rest (filled by the storage-privacy work)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 20:00:00

The columns stay TEXT; what they hold becomes a Fernet token (bot/storage/crypto.py). Rows
written before are encrypted here with the first of DATA_KEYS, read exactly as the gateway
reads it (the environment, or var/data.key in local mode). A value that already opens with
one of the keys is left alone, so running it twice does no harm.
"""

from alembic import op
import sqlalchemy as sa
from cryptography.fernet import InvalidToken

from bot.storage import crypto


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# Frozen here on purpose: the models may change, this migration must not.
ENCRYPTED = {
    'messages': ('text', 'payload', 'last_error'),
    'case_notes': ('text',),
    'canned_replies': ('text',),
}
BATCH = 500


def _is_token(value: str) -> bool:
    try:
        crypto.decrypt(value)
    except (InvalidToken, ValueError, UnicodeError):
        return False
    return True


def _convert(change) -> None:
    """Rewrites every non-null value of the listed columns with change(value) (None: keep)."""
    conn = op.get_bind()
    for name, columns in ENCRYPTED.items():
        table = sa.table(name, sa.column('id', sa.Integer), *(sa.column(c, sa.Text) for c in columns))
        last = 0
        while True:
            rows = conn.execute(
                sa.select(table).where(table.c.id > last).order_by(table.c.id).limit(BATCH)
            ).all()
            if not rows:
                break
            for row in rows:
                values = {}
                for c in columns:
                    old = getattr(row, c)
                    new = change(old) if old is not None else None
                    if new is not None and new != old:
                        values[c] = new
                if values:
                    conn.execute(sa.update(table).where(table.c.id == row.id).values(**values))
            last = rows[-1].id


def upgrade() -> None:
    _convert(lambda value: None if _is_token(value) else crypto.encrypt(value))


def downgrade() -> None:
    _convert(lambda value: crypto.decrypt(value) if _is_token(value) else None)
