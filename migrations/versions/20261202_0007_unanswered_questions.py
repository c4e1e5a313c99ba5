"""questions the bot could not answer, for editors: what she wrote (encrypted), her language,
why (no answer, asked back, "not helpful"), and her contact only so it is erased with her

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 21:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('unanswered_questions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('entry_id', sa.String(length=128), nullable=True),
    sa.Column('ref', sa.String(length=64), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('dismissed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_unanswered_questions_contact_id_contacts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unanswered_questions'))
    )
    with op.batch_alter_table('unanswered_questions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unanswered_questions_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_unanswered_questions_language'), ['language'], unique=False)
        batch_op.create_index(batch_op.f('ix_unanswered_questions_ref'), ['ref'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('unanswered_questions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unanswered_questions_ref'))
        batch_op.drop_index(batch_op.f('ix_unanswered_questions_language'))
        batch_op.drop_index(batch_op.f('ix_unanswered_questions_contact_id'))
    op.drop_table('unanswered_questions')
