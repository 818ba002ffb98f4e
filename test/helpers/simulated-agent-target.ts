import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AGENT_VERSION } from '../../agent/agent';
import { withTenant, type Orm } from '../../infra/db/orm';
import type { CommandIo, RanCommand } from './wsman-test-server';

/**
 * A Windows host as the gateway's agent push sees it over WinRM (ADR 0043), for the WS-Man test
 * server's PowerShell handler: it runs the three scripts of agent/gateway/winrm/agent-push.ts by
 * their first line. The install really downloads the MSI from the link in the script (a real HTTP
 * GET to the API, so the one-time link is used up), checks its SHA-256 as Get-FileHash would, and
 * "runs msiexec": counts it, takes `msiexecMs`, leaves the DrydockAgent service running and calls
 * `onInstalled` (the test starts a simulated machine with this host's name, which enrolls). An
 * msiexec keeps running when the gateway's connection goes away, as an install on Windows does.
 */
export class SimulatedAgentTarget {
  service: 'Absent' | 'Stopped' | 'Running' = 'Absent';
  installing = false;
  /** msiexec runs: an idempotent push runs it at most once per host. */
  installs = 0;
  /** Every download the host made: the link and the API's status. */
  readonly downloads: { url: string; status: number }[] = [];
  /** What msiexec exits with (0, 3010, 1603…). */
  msiexecExitCode = 0;
  onInstalled?: () => void | Promise<void>;

  constructor(private readonly opts: { msiexecMs?: number } = {}) {}

  readonly powershell = async (script: string, io: CommandIo, _cmd: RanCommand): Promise<number> => {
    const first = script.split(/\r?\n/, 1)[0];
    switch (first) {
      case '# drydock:agent-state': {
        const wait = /FromSeconds\((\d+)\)/.exec(script);
        if (wait && this.service !== 'Absent') {
          const until = Date.now() + Number(wait[1]) * 1000;
          while (this.service !== 'Running' && Date.now() < until)
            await new Promise((r) => setTimeout(r, 100));
        }
        io.stdout(
          `drydock-state service=${this.service} installing=${this.installing ? 'True' : 'False'}\r\n`,
        );
        return 0;
      }
      case '# drydock:agent-start':
        if (this.service === 'Absent') {
          io.stderr("Start-Service : Cannot find any service with service name 'DrydockAgent'.\r\n");
          return 1;
        }
        this.service = 'Running';
        return 0;
      case '# drydock:agent-install':
        return this.install(script, io);
      default:
        io.stderr('simulated host: not a script of the agent push\r\n');
        return 1;
    }
  };

  private async install(script: string, io: CommandIo): Promise<number> {
    const url = /Invoke-WebRequest -Uri '([^']+)' -OutFile \$msi -UseBasicParsing/.exec(script)?.[1];
    const expected = /if \(\$hash -ne '([0-9A-F]{64})'\)/.exec(script)?.[1];
    if (!url || !expected) {
      io.stderr('simulated host: the install script has no link or hash\r\n');
      return 1;
    }
    let body: Buffer;
    try {
      const res = await fetch(url);
      this.downloads.push({ url, status: res.status });
      if (!res.ok) throw new Error(`The remote server returned an error: (${res.status}).`);
      body = Buffer.from(await res.arrayBuffer());
    } catch (err) {
      io.stdout(`drydock-install download-failed ${(err as Error).message}\r\n`);
      return 20;
    }
    const hash = createHash('sha256').update(body).digest('hex').toUpperCase();
    if (hash !== expected) {
      io.stdout(`drydock-install hash-mismatch ${hash}\r\n`);
      return 21;
    }
    this.installs += 1;
    this.installing = true;
    await new Promise((r) => setTimeout(r, this.opts.msiexecMs ?? 200));
    this.installing = false;
    const code = this.msiexecExitCode;
    if (code === 0 || code === 3010) {
      this.service = 'Running';
      await this.onInstalled?.();
    }
    io.stdout(`drydock-install exit=${code}\r\n`);
    return code;
  }
}

/**
 * An already-built site MSI (building real installers takes minutes): a small file the API serves
 * as the site's current installer, named as installer/site-config.ts names one. The simulated host
 * only checks its hash.
 */
export async function seedSiteMsi(
  orm: Orm,
  input: {
    tenantId: string;
    siteId: string;
    siteCode: string;
    dir: string;
    key: { version: number; fingerprint: string };
  },
): Promise<{ id: string; fileName: string; sha256: string }> {
  const bytes = Buffer.from(`not a real MSI: the simulated host only checks its hash ${randomUUID()}\n`);
  mkdirSync(input.dir, { recursive: true });
  const code = /\(([0-9A-F]{4})\)/.exec(input.key.fingerprint)![1];
  const fileName = `Drydock-${input.siteCode}-v${input.key.version}-${code}.msi`;
  writeFileSync(path.join(input.dir, fileName), bytes);
  const msi = { id: randomUUID(), fileName, sha256: createHash('sha256').update(bytes).digest('hex') };
  await withTenant(orm, input.tenantId, (em) =>
    em.execute(
      `insert into site_installers (id, tenant_id, site_id, agent_version, key_version, fingerprint, kind,
         file_name, sha256, size_bytes, storage_path)
       values (?, ?, ?, ?, ?, ?, 'msi', ?, ?, ?, ?)`,
      [
        msi.id,
        input.tenantId,
        input.siteId,
        AGENT_VERSION,
        input.key.version,
        input.key.fingerprint,
        fileName,
        msi.sha256,
        bytes.length,
        path.join(input.dir, fileName),
      ],
    ),
  );
  return msi;
}
