import { Migration } from '@mikro-orm/migrations';

/**
 * An agent key remembers the enrollment attempt that obtained it (an HMAC of the agent's random
 * attempt secret, ADR 0009): when the API commits an enrollment and dies before its answer reaches
 * the agent, the agent repeats the request with the same attempt and lands on the same machine,
 * instead of leaving an unverified second row behind.
 */
export class Migration0031EnrollmentAttempts extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table agent_keys add column attempt_hash text check (attempt_hash ~ '^[0-9a-f]{64}$');`,
    );
    this.addSql(`create index agent_keys_attempt on agent_keys (tenant_id, attempt_hash)
      where attempt_hash is not null and revoked_at is null;`);
  }
}
