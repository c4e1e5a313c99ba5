"""cases: the language counsellors write to her in, when a transfer to another language's
queue said so (her own language stays hers: the bot's notices to her use it)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 21:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('write_in', sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('write_in')
