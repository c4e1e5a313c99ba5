"""Rasa's tracker store in the gateway's database: one encrypted row per conversation
(nlu/tracker_store.py, which creates the same table when Rasa starts first; hence IF NOT EXISTS)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 20:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def _table() -> sa.Table:
    return sa.Table(
        'rasa_trackers', sa.MetaData(),
        sa.Column('sender_id', sa.Text(), primary_key=True),  # Contact.conversation_key
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('data', sa.Text(), nullable=False),  # Rasa's JSON, Fernet-encrypted
        sa.Index('ix_rasa_trackers_updated_at', 'updated_at'),
    )


def upgrade() -> None:
    table = _table()
    op.execute(sa.schema.CreateTable(table, if_not_exists=True))
    for index in table.indexes:
        op.execute(sa.schema.CreateIndex(index, if_not_exists=True))


def downgrade() -> None:
    op.execute('DROP TABLE IF EXISTS rasa_trackers')
