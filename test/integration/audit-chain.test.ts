import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Client } from 'pg';
import { repoRoot } from '../../infra/config/env';
import { appendAudit } from '../../infra/db/audit';
import { verifyAuditChains } from '../../infra/db/audit-verify';
import { withTenant, type Orm } from '../../infra/db/orm';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { createTenant, type TenantFixture } from '../helpers/fixtures';

const run = promisify(execFile);

let db: TestDatabase;
let orm: Orm;
let admin: Client;

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await db.appOrm();
  admin = await db.adminClient();
});
afterAll(() => db.drop());

async function writeEvents(tenant: TenantFixture, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await withTenant(orm, tenant.tenantId, (em) =>
      appendAudit(em, {
        tenantId: tenant.tenantId,
        actor: 'test',
        action: 'test.event',
        subjectType: 'thing',
        subjectId: String(i),
        data: { i, note: 'ünïcode ✓' },
      }),
    );
  }
}

async function verifyOne(tenantId: string) {
  const [report] = await verifyAuditChains(db.adminUrl, tenantId);
  return report!;
}

/** Tampering needs the owner with triggers off, as an attacker with database access would do. */
async function tamper(sql: string, params: unknown[] = []): Promise<void> {
  await admin.query('begin');
  try {
    await admin.query('set local session_replication_role = replica');
    for (const statement of sql.split(';').filter((s) => s.trim())) await admin.query(statement, params);
    await admin.query('commit');
  } catch (err) {
    await admin.query('rollback');
    throw err;
  }
}

describe('audit_events is append-only', () => {
  let tenant: TenantFixture;
  beforeAll(async () => {
    tenant = await createTenant(orm);
    await writeEvents(tenant, 2);
  });

  it.each([
    ['UPDATE', `update audit_events set actor = 'mallory'`],
    ['DELETE', 'delete from audit_events'],
    ['TRUNCATE', 'truncate audit_events'],
  ])('refuses %s for the app role', async (_op, sql) => {
    await expect(withTenant(orm, tenant.tenantId, (em) => em.execute(sql))).rejects.toThrow(
      /permission denied|append-only/,
    );
  });

  it.each([
    ['UPDATE', `update audit_events set actor = 'mallory'`],
    ['DELETE', 'delete from audit_events'],
    ['TRUNCATE', 'truncate audit_events'],
  ])('refuses %s even for the table owner, through the trigger', async (_op, sql) => {
    await expect(admin.query(sql)).rejects.toThrow(/append-only/);
  });
});

describe('the hash chain', () => {
  it('stays one gapless chain under 20 concurrent writers', async () => {
    const tenant = await createTenant(orm);
    await Promise.all(
      Array.from({ length: 20 }, (_, writer) =>
        (async () => {
          for (let i = 0; i < 5; i++) {
            await withTenant(orm, tenant.tenantId, (em) =>
              appendAudit(em, {
                tenantId: tenant.tenantId,
                actor: `writer-${writer}`,
                action: 'race',
                subjectType: 'w',
                subjectId: `${writer}.${i}`,
              }),
            );
          }
        })(),
      ),
    );
    const { rows } = await admin.query<{ seq: string }>(
      'select seq::text from audit_events where tenant_id = $1 order by audit_events.seq',
      [tenant.tenantId],
    );
    expect(rows.map((r) => Number(r.seq))).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    const report = await verifyOne(tenant.tenantId);
    expect(report.break).toBeUndefined();
    expect(report.events).toBe(100);
  });

  it('keeps tenants on separate chains', async () => {
    const [x, y] = [await createTenant(orm), await createTenant(orm)];
    await writeEvents(x, 3);
    await writeEvents(y, 2);
    expect((await verifyOne(x.tenantId)).headSeq).toBe('3');
    expect((await verifyOne(y.tenantId)).headSeq).toBe('2');
  });

  it('names an edited row', async () => {
    const tenant = await createTenant(orm);
    await writeEvents(tenant, 5);
    await tamper(`update audit_events set data = '{"i": 99}' where tenant_id = $1 and seq = 3`, [
      tenant.tenantId,
    ]);
    expect((await verifyOne(tenant.tenantId)).break).toMatchObject({
      seq: '3',
      problem: expect.stringMatching(/edited/),
    });
  });

  it('names a deleted row', async () => {
    const tenant = await createTenant(orm);
    await writeEvents(tenant, 5);
    await tamper('delete from audit_events where tenant_id = $1 and seq = 2', [tenant.tenantId]);
    expect((await verifyOne(tenant.tenantId)).break).toMatchObject({
      seq: '2',
      id: null,
      problem: expect.stringMatching(/deleted/),
    });
  });

  it('names reordered rows', async () => {
    const tenant = await createTenant(orm);
    await writeEvents(tenant, 5);
    await tamper(
      `update audit_events set seq = -2 where tenant_id = $1 and seq = 2;
       update audit_events set seq = 2 where tenant_id = $1 and seq = 4;
       update audit_events set seq = 4 where tenant_id = $1 and seq = -2`,
      [tenant.tenantId],
    );
    const report = await verifyOne(tenant.tenantId);
    expect(report.break?.seq).toBe('2');
  });

  it('names a forged insert', async () => {
    const tenant = await createTenant(orm);
    await writeEvents(tenant, 3);
    const head = await admin.query<{ hash: string }>(
      'select hash from audit_events where tenant_id = $1 and seq = 3',
      [tenant.tenantId],
    );
    await tamper(
      `insert into audit_events (tenant_id, seq, occurred_at, actor, action, subject_type, subject_id, data, prev_hash, hash)
       values ($1, 4, now(), 'admin', 'secret.revealed', 'secret', 'x', '{}', $2, $3)`,
      [tenant.tenantId, head.rows[0]!.hash, 'f'.repeat(64)],
    );
    expect((await verifyOne(tenant.tenantId)).break).toMatchObject({
      seq: '4',
      problem: expect.stringMatching(/forged/),
    });
  });

  it('`drydock audit verify` prints the broken link and exits 1; a clean chain exits 0', async () => {
    const clean = await createTenant(orm);
    await writeEvents(clean, 2);
    const env = { ...process.env, DATABASE_URL: db.adminUrl };
    const cli = path.join(repoRoot, 'bin', 'drydock.js');
    const ok = await run(process.execPath, [cli, 'audit', 'verify', '--tenant', clean.tenantId], { env });
    expect(ok.stdout).toMatch(new RegExp(`^ok +tenant ${clean.tenantId}: 2 events, head seq 2`));

    const broken = await createTenant(orm);
    await writeEvents(broken, 4);
    await tamper(`update audit_events set actor = 'someone else' where tenant_id = $1 and seq = 2`, [
      broken.tenantId,
    ]);
    const failed = await run(process.execPath, [cli, 'audit', 'verify'], { env }).catch(
      (e: { code: number; stdout: string }) => e,
    );
    expect((failed as { code: number }).code).toBe(1);
    expect(failed.stdout).toContain(`BROKEN tenant ${broken.tenantId}: seq 2`);
    expect(failed.stdout).toContain(`ok     tenant ${clean.tenantId}`);
  });
});
