"""session secret: one random key per database signs dashboard sessions on every worker and host

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 17:30:00
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("gate_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_secret", sa.String(length=64), nullable=True))
    state = sa.table("gate_state", sa.column("session_secret", sa.String))
    op.get_bind().execute(state.update().values(session_secret=secrets.token_hex(32)))


def downgrade() -> None:
    with op.batch_alter_table("gate_state", schema=None) as batch_op:
        batch_op.drop_column("session_secret")
