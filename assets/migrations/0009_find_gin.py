"""One GIN index over ancestors, search vector, tags and metadata replaces the three
single-column ones of search (the ancestors one stays for folder pages). Built first,
then the old ones dropped, all without locking out writes."""

import django.contrib.postgres.indexes
from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations


class Migration(migrations.Migration):
    atomic = False  # CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("assets", "0008_sort_indexes"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="asset",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["ancestors", "search_vector", "tags", "metadata"], name="asset_find_gin"
            ),
        ),
        RemoveIndexConcurrently(model_name="asset", name="asset_tags_gin"),
        RemoveIndexConcurrently(model_name="asset", name="asset_metadata_gin"),
        RemoveIndexConcurrently(model_name="asset", name="asset_search_gin"),
    ]
