"""counsellor workspace: the stretches in which a counsellor held a case, so the workspace
knows which of her messages were sent while held (and the held-message notice can be sent)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 21:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('case_holds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_holds_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_case_holds_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_holds'))
    )
    with op.batch_alter_table('case_holds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_holds_case_id'), ['case_id'], unique=False)
    # cases held at the upgrade: their stretch began when they were claimed
    op.execute(
        "INSERT INTO case_holds (case_id, user_id, started_at) "
        "SELECT id, assigned_to, COALESCE(assigned_at, last_activity_at) FROM cases "
        "WHERE status IN ('assigned', 'active')"
    )


def downgrade() -> None:
    with op.batch_alter_table('case_holds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_holds_case_id'))
    op.drop_table('case_holds')
