-- First start of the compose PostgreSQL: the ledger's own database beside Dagster's (the
-- `dagster` database is POSTGRES_DB). Both owned by the same role.
CREATE DATABASE bridge_ledger OWNER dagster;
