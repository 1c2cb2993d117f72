"""The lexeme triggers insert their words in order, so two transactions that add the
same new words wait for each other instead of deadlocking."""

from django.db import migrations

ORDERED_SQL = """
CREATE OR REPLACE FUNCTION assets_search_lexemes_insert() RETURNS trigger AS $$
BEGIN
  INSERT INTO assets_searchlexeme (word)
  SELECT DISTINCT w FROM new_rows, unnest(tsvector_to_array(new_rows.search_vector)) AS w
  ORDER BY w
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
"""


class Migration(migrations.Migration):
    dependencies = [
        ("assets", "0010_search_lexemes"),
    ]

    operations = [migrations.RunSQL(ORDERED_SQL, migrations.RunSQL.noop)]
