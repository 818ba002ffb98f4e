import { Migration } from '@mikro-orm/migrations';

const pinned = 'set search_path = pg_catalog, public, pg_temp';

/**
 * Client scope (ADR 0031) for the tables built beside it: a caller scoped to some clients sees a
 * profile migration (issue 17) only on a machine it can see, a batch only when every client the
 * batch touches is in its scope (`client_ids`, kept by a trigger as fleet runs do), and a site's
 * domain credential row (issue 15; ciphertext only) only for a site it can see.
 */
export class Migration0020ClientScopeForMigrations extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table profile_migration_batches add column client_ids uuid[] not null default '{}';`);
    for (const t of ['profile_migration_batches', 'profile_migrations', 'machines', 'sites'])
      this.addSql(`alter table ${t} no force row level security;`);
    this
      .addSql(`update profile_migration_batches b set client_ids = coalesce((select array_agg(distinct s.client_id)
        from profile_migrations p join machines m on m.id = p.machine_id join sites s on s.id = m.site_id
       where p.batch_id = b.id), '{}');`);
    for (const t of ['profile_migration_batches', 'profile_migrations', 'machines', 'sites'])
      this.addSql(`alter table ${t} force row level security;`);
    this.addSql(`create function profile_migrations_client() returns trigger language plpgsql ${pinned} as $$
      declare
        v_client uuid;
      begin
        if new.batch_id is null then return null; end if;
        select s.client_id into v_client from machines m join sites s on s.tenant_id = m.tenant_id and s.id = m.site_id
         where m.tenant_id = new.tenant_id and m.id = new.machine_id;
        update profile_migration_batches b set client_ids = b.client_ids || v_client
         where b.tenant_id = new.tenant_id and b.id = new.batch_id and not (v_client = any (b.client_ids));
        return null;
      end $$;`);
    this.addSql(`create trigger profile_migrations_client after insert on profile_migrations
      for each row execute function profile_migrations_client();`);
    const scoped = (table: string, condition: string) =>
      `create policy client_scope on ${table} as restrictive for all
         using (drydock_client_scope() is null or ${condition})
         with check (drydock_client_scope() is null or ${condition});`;
    this.addSql(
      scoped(
        'profile_migrations',
        'exists (select 1 from machines m where m.tenant_id = profile_migrations.tenant_id and m.id = profile_migrations.machine_id)',
      ),
    );
    this.addSql(scoped('profile_migration_batches', 'client_ids <@ drydock_client_scope()'));
    this.addSql(
      scoped(
        'domain_credentials',
        'exists (select 1 from sites s where s.tenant_id = domain_credentials.tenant_id and s.id = domain_credentials.site_id)',
      ),
    );
  }
}
