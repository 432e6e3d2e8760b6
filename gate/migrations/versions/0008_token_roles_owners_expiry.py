"""tokens with several roles, an owner scope and an expiry (contract 8.1); every token keeps working;
a plan remembers the token that started it (a plan whose starter's token lapses pauses)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 04:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("roles", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("owners", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))
    op.execute("UPDATE tokens SET roles = role")  # a token's one role becomes a one-element list
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("started_token_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.alter_column("roles", existing_type=sa.String(length=100), nullable=False)
        batch_op.drop_column("role")


def downgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_column("started_token_id")
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("role", sa.String(length=20), nullable=True))
    # a token of several roles keeps the first; its owner scope and expiry are gone
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE tokens SET role = split_part(roles, ',', 1)")
    else:
        op.execute(
            "UPDATE tokens SET role = CASE WHEN instr(roles, ',') > 0 "
            "THEN substr(roles, 1, instr(roles, ',') - 1) ELSE roles END"
        )
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.alter_column("role", existing_type=sa.String(length=20), nullable=False)
        batch_op.drop_column("expires_at")
        batch_op.drop_column("owners")
        batch_op.drop_column("roles")
