import { Migration } from '@mikro-orm/migrations';
import { APP_ROLE } from '../roles';

const roleCheck = `check (role in ('viewer', 'operator', 'engineer', 'admin'))`;
const tenantPolicy = (table: string) => [
  `alter table ${table} enable row level security;`,
  `alter table ${table} force row level security;`,
  `create policy tenant_isolation on ${table}
     using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
     with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);`,
  `grant select, insert, update, delete on ${table} to ${APP_ROLE};`,
];
const pinned = `set search_path = pg_catalog, public, pg_temp`;

/**
 * OIDC sign-in, server-side sessions, API tokens, per-client scopes and reveal-secrets, and tenant
 * branding (ADR 0030–0032). Sessions, tokens and IdP mappings are found before the tenant is known
 * only by what the caller presents (a session id's hash, a token id, an issuer), through lookup
 * policies like agent keys' (ADR 0008); everything else stays behind tenant isolation.
 */
export class Migration0012SignInAndTokens extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table memberships
      add column can_reveal_secrets boolean not null default false,
      add column client_ids uuid[] check (client_ids is null or cardinality(client_ids) between 1 and 1000);`);
    this.addSql(`alter table tenants
      add column display_name text check (length(display_name) between 1 and 100),
      add column logo_url text check (logo_url ~ '^(https://|/)[^\\s"''<>]+$' and length(logo_url) <= 1000),
      add column accent_color text not null default '#1c7ed6' check (accent_color ~ '^#[0-9a-fA-F]{6}$');`);
    this.addSql(`create unique index users_tenant_email on users (tenant_id, lower(email));`);

    // Which IdP tenants (Entra "tid") and groups sign in to which Drydock tenant.
    this.addSql(`create table idp_mappings (
      id uuid primary key,
      tenant_id uuid not null references tenants (tenant_id),
      issuer text not null check (issuer ~ '^https?://'),
      idp_tenant text check (length(idp_tenant) between 1 and 200),
      idp_group text check (length(idp_group) between 1 and 200),
      default_role text ${roleCheck.replace('role in', 'default_role in')},
      created_at timestamptz not null default now(),
      unique nulls not distinct (issuer, idp_tenant, idp_group)
    );`);

    this.addSql(`create table sessions (
      id uuid primary key,
      tenant_id uuid not null references tenants (tenant_id),
      user_id uuid not null,
      id_hash text not null unique check (id_hash ~ '^[0-9a-f]{64}$'),
      created_at timestamptz not null default now(),
      expires_at timestamptz not null,
      last_seen_at timestamptz not null default now(),
      revoked_at timestamptz,
      unique (tenant_id, id),
      foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade
    );`);
    this.addSql(`create index sessions_user on sessions (tenant_id, user_id) where revoked_at is null;`);

    this.addSql(`create table api_tokens (
      id uuid primary key,
      tenant_id uuid not null references tenants (tenant_id),
      token_id text not null unique check (token_id ~ '^[0-9a-f]{16}$'),
      token_hash text not null check (token_hash ~ '^[0-9a-f]{64}$'),
      name text not null check (length(name) between 1 and 100),
      role text not null ${roleCheck},
      can_reveal_secrets boolean not null default false,
      client_ids uuid[] check (client_ids is null or cardinality(client_ids) between 1 and 1000),
      created_by text not null,
      created_at timestamptz not null default now(),
      expires_at timestamptz,
      revoked_at timestamptz,
      last_used_at timestamptz,
      unique (tenant_id, id)
    );`);

    for (const table of ['idp_mappings', 'sessions', 'api_tokens'])
      for (const sql of tenantPolicy(table)) this.addSql(sql);
    this.addSql(`create policy idp_lookup on idp_mappings for select
      using (issuer = nullif(current_setting('app.idp_issuer', true), ''));`);
    this.addSql(`create policy session_lookup on sessions for select
      using (id_hash = nullif(current_setting('app.session_lookup', true), ''));`);
    this.addSql(`create policy token_lookup on api_tokens for select
      using (token_id = nullif(current_setting('app.token_lookup', true), ''));`);

    // A session's caller in one round trip: the live session by its id's hash, then (in its tenant)
    // the user and their membership, so a role change or removal applies at the next request.
    this.addSql(`create function auth_session_caller(p_hash text)
      returns table (tenant_id uuid, session_id uuid, user_id uuid, email text, display_name text,
                     role text, can_reveal_secrets boolean, client_ids uuid[])
      language plpgsql ${pinned} as $$
      #variable_conflict use_column
      declare
        v_tenant uuid;
        v_session uuid;
        v_user uuid;
      begin
        perform set_config('app.session_lookup', p_hash, true);
        select s.tenant_id, s.id, s.user_id into v_tenant, v_session, v_user from sessions s
         where s.id_hash = p_hash and s.revoked_at is null and s.expires_at > now();
        perform set_config('app.session_lookup', '', true);
        if v_tenant is null then return; end if;
        perform set_config('app.tenant_id', v_tenant::text, true);
        update sessions s set last_seen_at = now()
         where s.tenant_id = v_tenant and s.id = v_session and s.last_seen_at < now() - interval '1 minute';
        return query select v_tenant, v_session, u.id, u.email, u.display_name, m.role,
                            m.can_reveal_secrets, m.client_ids
          from users u join memberships m on m.tenant_id = u.tenant_id and m.user_id = u.id
         where u.tenant_id = v_tenant and u.id = v_user;
      end $$;`);
    // Sign-out: revoke the session presented, whoever's tenant it is in.
    this.addSql(`create function auth_session_revoke(p_hash text) returns boolean
      language plpgsql ${pinned} as $$
      declare
        v_tenant uuid;
        v_session uuid;
      begin
        perform set_config('app.session_lookup', p_hash, true);
        select s.tenant_id, s.id into v_tenant, v_session from sessions s where s.id_hash = p_hash;
        perform set_config('app.session_lookup', '', true);
        if v_tenant is null then return false; end if;
        perform set_config('app.tenant_id', v_tenant::text, true);
        update sessions s set revoked_at = coalesce(s.revoked_at, now())
         where s.tenant_id = v_tenant and s.id = v_session;
        return true;
      end $$;`);
    // A bearer token's row by its (non-secret) id; the caller compares the hash in constant time.
    this.addSql(`create function auth_token_lookup(p_token_id text)
      returns table (tenant_id uuid, id uuid, token_hash text, name text, role text,
                     can_reveal_secrets boolean, client_ids uuid[], expires_at timestamptz,
                     revoked_at timestamptz, last_used_at timestamptz)
      language plpgsql ${pinned} as $$
      #variable_conflict use_column
      begin
        perform set_config('app.token_lookup', p_token_id, true);
        return query select t.tenant_id, t.id, t.token_hash, t.name, t.role, t.can_reveal_secrets,
                            t.client_ids, t.expires_at, t.revoked_at, t.last_used_at
          from api_tokens t where t.token_id = p_token_id;
        perform set_config('app.token_lookup', '', true);
      end $$;`);
    // The IdP mappings of one issuer, across tenants: which tenant a signed-in person belongs to.
    this.addSql(`create function auth_idp_mappings(p_issuer text)
      returns table (tenant_id uuid, idp_tenant text, idp_group text, default_role text)
      language plpgsql ${pinned} as $$
      #variable_conflict use_column
      begin
        perform set_config('app.idp_issuer', p_issuer, true);
        return query select m.tenant_id, m.idp_tenant, m.idp_group, m.default_role
          from idp_mappings m where m.issuer = p_issuer;
        perform set_config('app.idp_issuer', '', true);
      end $$;`);
    this.clientScope();

    for (const fn of [
      'auth_session_caller(text)',
      'auth_session_revoke(text)',
      'auth_token_lookup(text)',
      'auth_idp_mappings(text)',
      'drydock_client_scope()',
    ]) {
      this.addSql(`revoke all on function ${fn} from public;`);
      this.addSql(`grant execute on function ${fn} to ${APP_ROLE};`);
    }
  }

  /**
   * Client scope (ADR 0031): a caller scoped to some clients sees only their rows. The service layer
   * sets `app.client_scope` (a uuid[] literal) for the caller's transaction; restrictive policies,
   * ANDed with tenant isolation, hide everything else — so every query, the ORM's, a QueryBuilder's
   * or raw SQL, sees the same scope, and an id outside it is as absent as one that never existed.
   * Unset (workers, unscoped callers) = no restriction. Multi-machine runs carry the clients they
   * touch (client_ids, kept by triggers) and are visible only when all of them are in scope.
   */
  private clientScope(): void {
    this.addSql(`create function drydock_client_scope() returns uuid[] language sql stable ${pinned} as $$
      select nullif(current_setting('app.client_scope', true), '')::uuid[]
    $$;`);
    for (const [fleet, runs, fk] of [
      ['fleet_runs', 'machine_runs', 'fleet_run_id'],
      ['tweak_undos', 'machine_tweak_undos', 'tweak_undo_id'],
    ] as const) {
      this.addSql(`alter table ${fleet} add column client_ids uuid[] not null default '{}';`);
      // Backfill as the owner, which row-level security (forced) would otherwise hide every row from.
      for (const t of [fleet, runs, 'sites']) this.addSql(`alter table ${t} no force row level security;`);
      this.addSql(`update ${fleet} f set client_ids = coalesce((select array_agg(distinct s.client_id)
          from ${runs} r join sites s on s.id = r.site_id where r.${fk} = f.id), '{}');`);
      for (const t of [fleet, runs, 'sites']) this.addSql(`alter table ${t} force row level security;`);
      this.addSql(`create function ${runs}_client() returns trigger language plpgsql ${pinned} as $$
        declare
          v_client uuid;
        begin
          if new.${fk} is null then return null; end if;
          select s.client_id into v_client from sites s where s.tenant_id = new.tenant_id and s.id = new.site_id;
          update ${fleet} f set client_ids = f.client_ids || v_client
           where f.tenant_id = new.tenant_id and f.id = new.${fk} and not (v_client = any (f.client_ids));
          return null;
        end $$;`);
      this.addSql(`create trigger ${runs}_client after insert on ${runs}
        for each row execute function ${runs}_client();`);
    }
    const scoped = (table: string, condition: string) => [
      `create policy client_scope on ${table} as restrictive for all
         using (drydock_client_scope() is null or ${condition})
         with check (drydock_client_scope() is null or ${condition});`,
    ];
    const inVisibleSite = (table: string) =>
      `exists (select 1 from sites s where s.tenant_id = ${table}.tenant_id and s.id = ${table}.site_id)`;
    const ofVisibleMachine = (table: string) =>
      `exists (select 1 from machines m where m.tenant_id = ${table}.tenant_id and m.id = ${table}.machine_id)`;
    const policies = [
      ...scoped('clients', 'id = any (drydock_client_scope())'),
      ...scoped('sites', 'client_id = any (drydock_client_scope())'),
      ...scoped('machines', inVisibleSite('machines')),
      ...scoped('site_enrollment_keys', inVisibleSite('site_enrollment_keys')),
      ...scoped('site_installers', inVisibleSite('site_installers')),
      ...scoped('machine_runs', inVisibleSite('machine_runs')),
      ...scoped('machine_tweak_undos', inVisibleSite('machine_tweak_undos')),
      ...scoped('machine_names', inVisibleSite('machine_names')),
      ...scoped('agent_keys', ofVisibleMachine('agent_keys')),
      ...scoped('agent_tasks', ofVisibleMachine('agent_tasks')),
      ...scoped('fleet_runs', 'client_ids <@ drydock_client_scope()'),
      ...scoped('tweak_undos', 'client_ids <@ drydock_client_scope()'),
      ...scoped(
        'alerts',
        `((alerts.site_id is not null and ${inVisibleSite('alerts')})
          or (alerts.machine_id is not null and ${ofVisibleMachine('alerts')}))`,
      ),
    ];
    for (const sql of policies) this.addSql(sql);
  }
}
