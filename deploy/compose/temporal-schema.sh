#!/bin/sh
# One-shot (service temporal-schema, in the Temporal admin-tools image): creates the Temporal
# databases and brings their schemas to what this server version needs, with temporal-sql-tool and
# the schemas built into it. Every step is idempotent: on an existing cluster it only applies the
# versions that are missing, which is also how a Temporal server upgrade updates the schema.
# Connection: SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER, SQL_PASSWORD (temporal-sql-tool's variables).
set -eu
for db in "${TEMPORAL_DB:-temporal}:temporal" "${TEMPORAL_VISIBILITY_DB:-temporal_visibility}:visibility"; do
  name=${db%%:*}
  schema=postgresql/v12/${db#*:}
  echo "temporal-schema: database $name, schema $schema"
  temporal-sql-tool --quiet --database "$name" create-database
  temporal-sql-tool --quiet --database "$name" setup-schema --version 0.0
  temporal-sql-tool --quiet --database "$name" update-schema --schema-name "$schema"
done
echo "temporal-schema: done"
