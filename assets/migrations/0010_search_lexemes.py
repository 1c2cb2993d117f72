"""The table of every word the assets' search vectors hold, kept by statement-level
triggers (one INSERT ... ON CONFLICT DO NOTHING per statement, however many rows), and
filled from the existing assets."""

from django.db import migrations, models

LEXEME_SQL = """
CREATE OR REPLACE FUNCTION assets_search_lexemes_insert() RETURNS trigger AS $$
BEGIN
  INSERT INTO assets_searchlexeme (word)
  SELECT DISTINCT w FROM new_rows, unnest(tsvector_to_array(new_rows.search_vector)) AS w
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
  ORDER BY w
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER assets_search_lexemes_insert
  AFTER INSERT ON assets_asset REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION assets_search_lexemes_insert();

CREATE TRIGGER assets_search_lexemes_update
  AFTER UPDATE ON assets_asset REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION assets_search_lexemes_update();

INSERT INTO assets_searchlexeme (word)
SELECT DISTINCT w FROM assets_asset, unnest(tsvector_to_array(search_vector)) AS w
ON CONFLICT DO NOTHING;
ANALYZE assets_searchlexeme;
"""

UNDO_SQL = """
DROP TRIGGER IF EXISTS assets_search_lexemes_update ON assets_asset;
DROP TRIGGER IF EXISTS assets_search_lexemes_insert ON assets_asset;
DROP FUNCTION IF EXISTS assets_search_lexemes_update();
DROP FUNCTION IF EXISTS assets_search_lexemes_insert();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("assets", "0009_find_gin"),
    ]

    operations = [
        migrations.CreateModel(
            name="SearchLexeme",
            fields=[("word", models.TextField(primary_key=True, serialize=False))],
            options={
                "indexes": [
                    models.Index(
                        fields=["word"], name="search_lexeme_prefix", opclasses=["text_pattern_ops"]
                    )
                ],
            },
        ),
        migrations.RunSQL(LEXEME_SQL, UNDO_SQL),
    ]
