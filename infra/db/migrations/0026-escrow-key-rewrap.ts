import { Migration } from '@mikro-orm/migrations';
import { APP_ROLE } from '../roles';

/**
 * Break-glass recovery (issue 16, ADR 0046): after M shares restore a tenant key in the browser,
 * the admin sets a new passphrase and the browser re-wraps the same private key. The app role may
 * therefore replace a key version's `ddk1` blob and its KDF parameters — never its public key,
 * fingerprint or version (the service also checks the new blob names the stored public key).
 */
export class Migration0026EscrowKeyRewrap extends Migration {
  override async up(): Promise<void> {
    this.addSql(`grant update (wrapped_private_key, kdf) on tenant_escrow_keys to ${APP_ROLE};`);
  }
}
