-- A tenant's feature-store database on the platform's PostgreSQL: its own role and database, which no
-- other role may connect to. Idempotent: the cluster's Job runs it at every deploy (a changed password
-- is applied), the tests run it twice. Run by services/features/database.py's command:
--   psql -v ON_ERROR_STOP=1 -v role=feast_recsys -v database=feast_recsys -v platform_database=mlflow -f THIS
-- as the platform's superuser, with the role's password in FEAST_DB_PASSWORD (read by \getenv, so it
-- is never on a command line).
\getenv password FEAST_DB_PASSWORD
\if :{?password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'FEAST_DB_PASSWORD is not set: the role''s password comes from the feast-credentials Secret'; END $$;
\endif

SELECT format('CREATE ROLE %I LOGIN', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'password';

SELECT format('CREATE DATABASE %I OWNER %I', :'database', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'database') \gexec

-- Every database is open to every role by default (CONNECT to PUBLIC): close the tenant's, and the
-- registry's, to everyone but their owners.
REVOKE CONNECT, TEMPORARY ON DATABASE :"database" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"database" TO :"role";
REVOKE CONNECT, TEMPORARY ON DATABASE :"platform_database" FROM PUBLIC;
