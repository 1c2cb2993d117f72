"""Indexes for search's other sorts (name, size), built without locking out writes."""

import django.db.models.functions.text
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("assets", "0007_saved_searches"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="asset",
            index=models.Index(
                django.db.models.functions.text.Lower("display_name"),
                models.F("id"),
                name="asset_name_lower",
            ),
        ),
        AddIndexConcurrently(
            model_name="asset",
            index=models.Index(
                models.OrderBy(models.F("bytes"), descending=True),
                models.OrderBy(models.F("id"), descending=True),
                name="asset_bytes_desc",
            ),
        ),
    ]
