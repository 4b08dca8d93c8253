"""Drop the single-column job_id index of metric samples, latest metrics and rollups: each
table has a composite index or unique constraint that starts with job_id and serves the
same lookups, and every logged point paid for writing the extra index.

The database side is a plain DROP INDEX (the names are Django's, the same on PostgreSQL and
SQLite): an AlterField would rebuild the tables on SQLite and re-check the foreign keys of
every sample on PostgreSQL."""

import django.db.models.deletion
from django.db import migrations, models

INDEXES = [
    ("jobs_latestmetric", "jobs_latestmetric_job_id_7c5293d0"),
    ("jobs_metricrollup", "jobs_metricrollup_job_id_48d0dd0e"),
    ("jobs_metricsample", "jobs_metricsample_job_id_87c7be86"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0004_metric_rollup"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{index}"',
                    reverse_sql=f'CREATE INDEX IF NOT EXISTS "{index}" ON "{table}" ("job_id")',
                )
                for table, index in INDEXES
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="latestmetric",
                    name="job",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="latest_metrics",
                        to="jobs.job",
                    ),
                ),
                migrations.AlterField(
                    model_name="metricrollup",
                    name="job",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="jobs.job",
                    ),
                ),
                migrations.AlterField(
                    model_name="metricsample",
                    name="job",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="metric_samples",
                        to="jobs.job",
                    ),
                ),
            ],
        ),
    ]
