/**
 * The role the API and workers use: it owns no table and cannot bypass row-level security.
 * Migrations and maintenance commands use DATABASE_URL's role, which owns the tables.
 */
export const APP_ROLE = 'drydock_app';
