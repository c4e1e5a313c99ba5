"""reply statistics: one row per reply the bot gave (answered, asked back, "I don't know",
danger), by day, language and entry, with no link to her, for the editors' dashboard

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 21:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'reply_stats',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('entry_id', sa.String(length=128), nullable=True),
        sa.Column('topic', sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reply_stats')),
    )
    op.create_index(op.f('ix_reply_stats_day'), 'reply_stats', ['day'])


def downgrade() -> None:
    op.drop_index(op.f('ix_reply_stats_day'), table_name='reply_stats')
    op.drop_table('reply_stats')
