import { Migration } from '@mikro-orm/migrations';
import { APP_ROLE } from '../roles';

/**
 * Escrow key roll (issue 16, ADR 0044 "Key roll"): after a new tenant key version is installed, the
 * browser opens each secret sealed to an older version and seals it again to the new one. A
 * re-wrapped envelope is a row of its own — `escrowed_secrets` stays append-only, a stored
 * envelope is never replaced — and a retired key whose secrets all have a newer envelope can have
 * its wrapped private key destroyed, so its old passphrase opens nothing the server holds.
 */
export class Migration0030EscrowKeyRoll extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table escrowed_secret_rewraps (
      tenant_id uuid not null references tenants (tenant_id),
      secret_id uuid not null,
      key_version integer not null,
      envelope text not null check (envelope like 'dde1.%' and length(envelope) <= 4096),
      created_by text not null,
      created_at timestamptz not null default now(),
      primary key (tenant_id, secret_id, key_version),
      foreign key (tenant_id, secret_id) references escrowed_secrets (tenant_id, id),
      foreign key (tenant_id, key_version) references tenant_escrow_keys (tenant_id, key_version)
    );`);
    this.addSql(`alter table escrowed_secret_rewraps enable row level security;`);
    this.addSql(`alter table escrowed_secret_rewraps force row level security;`);
    this.addSql(`create policy tenant_isolation on escrowed_secret_rewraps
      using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
      with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);`);
    // Seen by whoever sees the secret's machine (ADR 0031), like the secret itself.
    const visible = `exists (select 1 from escrowed_secrets s join machines m on m.tenant_id = s.tenant_id and m.id = s.machine_id
        where s.tenant_id = escrowed_secret_rewraps.tenant_id and s.id = escrowed_secret_rewraps.secret_id)`;
    this.addSql(`create policy client_scope on escrowed_secret_rewraps as restrictive for all
      using (drydock_client_scope() is null or ${visible})
      with check (drydock_client_scope() is null or ${visible});`);
    // Append-only, like the secrets.
    this.addSql(`grant select, insert on escrowed_secret_rewraps to ${APP_ROLE};`);

    // A destroyed key keeps its public half and fingerprint (the history names it) but no private key.
    this.addSql(`alter table tenant_escrow_keys alter column wrapped_private_key drop not null;`);
    this.addSql(`alter table tenant_escrow_keys add column destroyed_at timestamptz;`);
    this.addSql(`alter table tenant_escrow_keys add constraint tenant_escrow_keys_destroyed
      check ((destroyed_at is null) = (wrapped_private_key is not null) and (destroyed_at is null or retired_at is not null));`);
    this.addSql(`grant update (wrapped_private_key, destroyed_at) on tenant_escrow_keys to ${APP_ROLE};`);
  }
}
