"""Exact text metadata search through the search index.

`metadata.photographer="ana silva"` compared UPPER(value) on every asset: a scan of the
whole library for a value few assets hold. Now the search vector also holds one term per
value of a text field, `=` and the MD5 of `<key>=<UPPER(value)>` in base64
(dam_metadata_term: 23 characters whatever the value's length, never a word of any text
since words hold no `=`), which the search's GIN index finds like a word. A value
exists only while its field does (deleting a field strips its values), so the trigger
reads which fields are text. The words table (SearchLexeme, for the word being typed)
leaves the terms out. The assets holding text values are re-indexed in batches
(`manage.py search_reindex` does the same for every asset, after a change of the
database's locale or of its libc/ICU case rules, as UPPER() is applied when written),
then the table is vacuumed: every re-indexed row was rewritten.
"""

from django.db import migrations, transaction

# The search-vector trigger's function as migration 0006 made it, `TERMS` marking where
# this migration appends the text metadata terms (and its undo appends nothing).
VECTOR_FUNCTION = r"""
CREATE OR REPLACE FUNCTION assets_asset_search_vector() RETURNS trigger AS $$
BEGIN
  NEW.search_vector :=
    setweight(to_tsvector('simple', coalesce(NEW.display_name, '')), 'A') ||
    setweight(to_tsvector('simple', coalesce(array_to_string(NEW.tags, ' '), '')), 'A') ||
    setweight(to_tsvector('simple',
      regexp_replace(coalesce(NEW.original_filename, ''), '[._-]+', ' ', 'g')), 'B') ||
    setweight(to_tsvector('simple', coalesce(
      (SELECT string_agg(value, ' ') FROM jsonb_each_text(NEW.metadata)), '')), 'C') ||
    setweight(to_tsvector('simple', coalesce(
      (SELECT string_agg(value, ' ') FROM jsonb_each_text(NEW.context)), '')), 'C') ||
    setweight(to_tsvector('simple', coalesce(
      (SELECT string_agg(body, ' ') FROM assets_comment WHERE asset_id = NEW.id), '')), 'D')TERMS;
  RETURN NEW;
END
$$ LANGUAGE plpgsql;

"""

TERMS_SQL = (
    r"""
-- The words table leaves the terms out: first, so no write in between adds them.
CREATE OR REPLACE FUNCTION assets_search_lexemes_insert() RETURNS trigger AS $$
BEGIN
  INSERT INTO assets_searchlexeme (word)
  SELECT DISTINCT w FROM new_rows, unnest(tsvector_to_array(new_rows.search_vector)) AS w
  WHERE w NOT LIKE '=%'  -- text metadata terms: never typed
  ORDER BY w  -- in order: two transactions adding the same new words wait, not deadlock
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION assets_search_lexemes_update() RETURNS trigger AS $$
BEGIN
  INSERT INTO assets_searchlexeme (word)
  SELECT DISTINCT w
  FROM new_rows JOIN old_rows ON old_rows.id = new_rows.id,
       unnest(tsvector_to_array(new_rows.search_vector)) AS w
  WHERE new_rows.search_vector IS DISTINCT FROM old_rows.search_vector
    AND w NOT LIKE '=%'
  ORDER BY w
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION dam_metadata_term(key text, value text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT '=' || rtrim(encode(decode(md5(key || '=' || upper(value)), 'hex'), 'base64'), '=')
$$;

CREATE OR REPLACE FUNCTION dam_metadata_terms(doc jsonb) RETURNS tsvector
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(doc) = 'object' THEN array_to_tsvector(ARRAY(
        SELECT dam_metadata_term(e.key, e.value #>> '{}')
        FROM jsonb_each(doc) e
        JOIN metadata_metadatafield f ON f.external_id = e.key AND f.type = 'string'
        WHERE jsonb_typeof(e.value) = 'string')) ELSE ''::tsvector END
$$;

"""
    + VECTOR_FUNCTION.replace("TERMS", " ||\n    dam_metadata_terms(NEW.metadata)")
    + r"""
DELETE FROM assets_searchlexeme WHERE word LIKE '=%';

"""
)

UNDO_SQL = (
    VECTOR_FUNCTION.replace("TERMS", "")
    + r"""
DROP FUNCTION IF EXISTS dam_metadata_terms(jsonb);
DROP FUNCTION IF EXISTS dam_metadata_term(text, text);
"""
)

BATCH = 5_000  # assets re-indexed per transaction: short row locks, writes go on


def reindex_text_metadata(apps, schema_editor) -> None:
    """Recompute the search vector of every asset holding a text field's value (the
    trigger runs on UPDATE OF metadata), a batch of ids per transaction."""
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM assets_asset")
        low, high = cursor.fetchone()
    if low is None:
        return
    for start in range(low, high + 1, BATCH):
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE assets_asset SET metadata = metadata WHERE id >= %s AND id < %s"
                " AND dam_metadata_terms(metadata) <> ''::tsvector",
                [start, start + BATCH],
            )


class Migration(migrations.Migration):
    atomic = False  # the batches commit one by one

    dependencies = [
        ("assets", "0014_metadata_keys"),
        ("metadata", "0002_schema_revision"),  # the trigger reads which fields are text
    ]

    operations = [
        migrations.RunSQL(TERMS_SQL, UNDO_SQL),
        migrations.RunPython(reindex_text_metadata, migrations.RunPython.noop),
        migrations.RunSQL("VACUUM ANALYZE assets_asset", migrations.RunSQL.noop),
    ]
