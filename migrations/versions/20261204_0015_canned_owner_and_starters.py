"""canned replies: personal ones (owner_id: the counsellor's own; NULL: shared), whether a
person reviewed the text, and a starter set in every first language for a fresh install
(bot/workspace/data/canned_starters.yml, marked not reviewed)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 22:30:00
"""
from pathlib import Path

import sqlalchemy as sa
import yaml
from alembic import op

from bot.storage import crypto


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

STARTERS = Path(__file__).resolve().parents[2] / "bot" / "workspace" / "data" / "canned_starters.yml"


def upgrade() -> None:
    with op.batch_alter_table('canned_replies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_id', sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column('reviewed', sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.create_foreign_key(
            'fk_canned_replies_owner_id_users', 'users', ['owner_id'], ['id'], ondelete='CASCADE'
        )
        batch_op.create_index('ix_canned_replies_owner_id', ['owner_id'])
    conn = op.get_bind()
    table = sa.table(
        'canned_replies',
        sa.column('language', sa.String),
        sa.column('title', sa.String),
        sa.column('text', sa.Text),
        sa.column('reviewed', sa.Boolean),
        sa.column('created_at', sa.DateTime(timezone=True)),
    )
    if conn.execute(sa.select(sa.func.count()).select_from(table)).scalar():
        return  # an organisation's own replies: no starters among them
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    rows = [
        {
            'language': lang,
            'title': item['title'],
            'text': crypto.encrypt(text),
            'reviewed': False,
            'created_at': now,
        }
        for item in yaml.safe_load(STARTERS.read_text(encoding='utf-8'))
        for lang, text in item['texts'].items()
    ]
    op.bulk_insert(table, rows)


def downgrade() -> None:
    with op.batch_alter_table('canned_replies', schema=None) as batch_op:
        batch_op.drop_index('ix_canned_replies_owner_id')
        batch_op.drop_constraint('fk_canned_replies_owner_id_users', type_='foreignkey')
        batch_op.drop_column('reviewed')
        batch_op.drop_column('owner_id')
