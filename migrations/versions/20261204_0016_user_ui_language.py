"""users: the language of the workspace for each account (English or Danish)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 23:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('ui_language', sa.String(length=8), nullable=False, server_default='en')
        )


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('ui_language')
