"""status check constraints; jobs remember their Ray job submission id

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
TRIAL_STATUSES = ("running", "succeeded", "failed", "cancelled")


def _one_of(values: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("ray_submission_id", sa.String(128), nullable=True))
        batch.create_check_constraint("ck_jobs_status", _one_of(JOB_STATUSES))
    with op.batch_alter_table("trials") as batch:
        batch.create_check_constraint("ck_trials_status", _one_of(TRIAL_STATUSES))


def downgrade() -> None:
    with op.batch_alter_table("trials") as batch:
        batch.drop_constraint("ck_trials_status", type_="check")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_constraint("ck_jobs_status", type_="check")
        batch.drop_column("ray_submission_id")
