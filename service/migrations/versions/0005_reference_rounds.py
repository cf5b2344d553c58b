"""search jobs name their reference rounds; jobs stored before rounds existed used one

``search.reference_rounds`` defaults to 2 from this revision on. A search job stored earlier
trained its reference model once, so its stored spec gets ``reference_rounds: 1``: resumed, it
keeps the shared weights its finished trials were measured with, and its exported sampler keeps
pointing at the reference model its features came from.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

jobs = sa.table("jobs", sa.column("id", sa.Integer), sa.column("kind", sa.String), sa.column("spec", sa.JSON))


def _set_rounds(add: bool) -> None:
    connection = op.get_bind()
    for job_id, spec in connection.execute(sa.select(jobs.c.id, jobs.c.spec).where(jobs.c.kind == "search")).all():
        search = dict((spec or {}).get("search") or {})
        if add == ("reference_rounds" in search):
            continue
        if add:
            search["reference_rounds"] = 1
        else:
            search.pop("reference_rounds")
        connection.execute(sa.update(jobs).where(jobs.c.id == job_id).values(spec={**spec, "search": search}))


def upgrade() -> None:
    _set_rounds(add=True)


def downgrade() -> None:
    _set_rounds(add=False)
