import { Migration } from '@mikro-orm/migrations';
import { APP_ROLE } from '../roles';

/**
 * Zero-knowledge escrow (issue 16, ADR 0044): the tenant's escrow keys and the secrets machines
 * escrowed to them. The server holds only what it cannot open: the public key, the private key
 * wrapped under a passphrase that never leaves the browser (`ddk1`, its KDF parameters beside it),
 * and HPKE envelopes (`dde1`). Append-only for secrets: no delete grant, and only `confirmed_at`
 * (with a BitLocker protector id) may change — an escrowed version is never replaced, because the machine may already hold it.
 */
export class Migration0025Escrow extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table tenant_escrow_keys (
      tenant_id uuid not null references tenants (tenant_id),
      key_version integer not null check (key_version between 1 and 999999999),
      public_key text not null check (public_key ~ '^[A-Za-z0-9_-]{87}$'),
      wrapped_private_key text not null check (wrapped_private_key like 'ddk1.%' and length(wrapped_private_key) <= 2048),
      kdf jsonb not null,
      fingerprint text not null check (fingerprint ~ '^[0-9a-f]{16}$'),
      created_by text not null,
      created_at timestamptz not null default now(),
      retired_at timestamptz,
      primary key (tenant_id, key_version)
    );`);
    // One current key per tenant: machines encrypt to it.
    this.addSql(
      `create unique index tenant_escrow_keys_current on tenant_escrow_keys (tenant_id) where retired_at is null;`,
    );
    this.addSql(`create table escrowed_secrets (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null references tenants (tenant_id),
      machine_id uuid not null,
      kind text not null check (kind in ('local-admin-password', 'bitlocker-recovery-password')),
      secret_version integer not null check (secret_version between 1 and 999999999),
      key_version integer not null,
      envelope text not null check (envelope like 'dde1.%' and length(envelope) <= 4096),
      protector_id text check (protector_id is null or protector_id ~ '^\\{[0-9A-Fa-f-]{36}\\}$'),
      account text check (account is null or length(account) between 1 and 20),
      task_id uuid,
      created_at timestamptz not null default now(),
      confirmed_at timestamptz,
      unique (tenant_id, id),
      unique (tenant_id, machine_id, kind, secret_version),
      foreign key (tenant_id, machine_id) references machines (tenant_id, id),
      foreign key (tenant_id, key_version) references tenant_escrow_keys (tenant_id, key_version)
    );`);
    for (const table of ['tenant_escrow_keys', 'escrowed_secrets']) {
      this.addSql(`alter table ${table} enable row level security;`);
      this.addSql(`alter table ${table} force row level security;`);
      this.addSql(`create policy tenant_isolation on ${table}
        using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
        with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);`);
    }
    // The tenant key is tenant-wide (every client's machines encrypt to it): no client scope. A
    // secret is seen by whoever sees its machine (ADR 0031).
    const visible =
      'exists (select 1 from machines m where m.tenant_id = escrowed_secrets.tenant_id and m.id = escrowed_secrets.machine_id)';
    this.addSql(`create policy client_scope on escrowed_secrets as restrictive for all
      using (drydock_client_scope() is null or ${visible})
      with check (drydock_client_scope() is null or ${visible});`);
    this.addSql(`grant select, insert, update (retired_at) on tenant_escrow_keys to ${APP_ROLE};`);
    this.addSql(
      `grant select, insert, update (confirmed_at, protector_id) on escrowed_secrets to ${APP_ROLE};`,
    );
    // Reveals are counted per person from the audit chain (the rate limit) and listed per secret.
    this.addSql(`create index audit_events_escrow_reveals on audit_events (tenant_id, actor, occurred_at)
      where action in ('escrow.reveal', 'escrow.reveal-refused');`);
    this.addSql(`create index audit_events_escrow_subject on audit_events (tenant_id, subject_id)
      where subject_type = 'escrowed_secret';`);
  }
}
