"""when each criterion revision of a feature with components last began to pass: what the milestones listing
and the components check read instead of folding every vote again (issue 24's speed)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 16:40:00
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("criterion_revisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("passing_since", sa.DateTime(), nullable=True))
    _fill()


def _fill() -> None:
    """Fold the history of each current criterion of each feature with components, as the service does."""
    from gate.domain.components import Happening, passing_since

    conn = op.get_bind()
    revisions = conn.execute(
        sa.text(
            "SELECT r.id, r.required_yes, r.evidence IS NOT NULL FROM criterion_revisions r "
            "JOIN features f ON f.id = r.feature_id WHERE f.integration IS NOT NULL AND r.retired_at IS NULL"
        )
    ).all()
    if not revisions:
        return
    ids = [r[0] for r in revisions]
    history: dict[int, list[tuple[object, int, int, Happening]]] = defaultdict(list)
    among: sa.BindParameter[list[int]] = sa.bindparam("ids", expanding=True)
    votes = sa.text("SELECT revision_id, created_at, id, voter, vote FROM votes WHERE revision_id IN :ids")
    for rid, at, vid, voter, vote in conn.execute(_dated(votes.bindparams(among)), {"ids": ids}):
        history[rid].append((at, 0, vid, Happening(at, voter, vote)))  # votes first on a tie, as the service
    reports = sa.text("SELECT revision_id, created_at, id, passed FROM evidence WHERE revision_id IN :ids")
    for rid, at, eid, passed in conn.execute(_dated(reports.bindparams(among)), {"ids": ids}):
        history[rid].append((at, 1, eid, Happening(at, evidence_passed=bool(passed))))
    update = sa.text("UPDATE criterion_revisions SET passing_since = :since WHERE id = :id").bindparams(
        sa.bindparam("since", type_=sa.DateTime())
    )
    for rid, required_yes, asks in revisions:
        ordered = [h for *_, h in sorted(history[rid], key=lambda item: item[:3])]
        since = passing_since(required_yes, bool(asks), ordered)
        if since is not None:
            conn.execute(update, {"since": since, "id": rid})


def _dated(query: sa.TextClause) -> sa.TextualSelect:
    """Times as datetimes on every database (SQLite answers text), naive UTC as stored."""
    return query.columns(created_at=sa.DateTime())


def downgrade() -> None:
    with op.batch_alter_table("criterion_revisions", schema=None) as batch_op:
        batch_op.drop_column("passing_since")
