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
      add column logo_url text check (logo_url ~ '^(https://|/)[^\\s"''<>]{1,1000}$'),
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
    for (const fn of [
      'auth_session_caller(text)',
      'auth_session_revoke(text)',
      'auth_token_lookup(text)',
      'auth_idp_mappings(text)',
    ]) {
      this.addSql(`revoke all on function ${fn} from public;`);
      this.addSql(`grant execute on function ${fn} to ${APP_ROLE};`);
    }
  }
}
