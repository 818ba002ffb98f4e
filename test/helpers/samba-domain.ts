import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { resolveSrv } from '../../agent/gateway/directory/dns-query';

/**
 * A real Active Directory domain for tests: Debian's Samba as a DC, provisioned once by
 * `infra/samba/provision-test-domain.sh` (about 45 s) into a cached template under
 * `.drydock/samba/` (keyed by the script's hash), copied per run so tests may change it, and run on
 * its own loopback address. Needs root and the packages `.ci/run` installs; `sambaAvailable()`
 * says why not otherwise, and the tests skip saying so.
 */

const ROOT = path.resolve(__dirname, '../..');
const SCRIPT = path.join(ROOT, 'infra/samba/provision-test-domain.sh');
export const SAMBA_IP = '127.0.15.1';
export const DOMAIN = 'drydock.test';
export const ADMIN_PASSWORD = 'Adm1n-Dryd0ck!';
export const SVC_USER = 'drydock-svc';
export const SVC_PASSWORD = 'Svc-Dryd0ck-2026!';
export const WORKSTATIONS = 500;

export function sambaAvailable(): string | null {
  if (process.getuid?.() !== 0) return 'Samba AD DC tests need root';
  for (const tool of ['/usr/sbin/samba', '/usr/bin/samba-tool', '/usr/bin/ldbadd']) {
    if (!existsSync(tool)) return `${tool} is missing (.ci/run installs samba, samba-ad-dc, ldb-tools)`;
  }
  if (!existsSync('/usr/share/samba/setup/ad-schema')) return 'samba-ad-provision is missing';
  return null;
}

function templateDir(): string {
  const hash = createHash('sha256').update(readFileSync(SCRIPT)).digest('hex').slice(0, 12);
  return path.join(ROOT, '.drydock/samba', `template-${hash}-${WORKSTATIONS}`);
}

function ensureTemplate(): string {
  const dir = templateDir();
  if (existsSync(path.join(dir, 'ready'))) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  try {
    execFileSync(SCRIPT, [tmp, String(WORKSTATIONS)], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, SAMBA_IP },
    });
  } catch (err) {
    throw new Error(
      `provisioning the test domain failed: ${String((err as { stderr?: Buffer }).stderr).slice(-3000)}`,
    );
  }
  writeFileSync(path.join(tmp, 'ready'), new Date().toISOString());
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  // smb.conf names the directory it was provisioned in.
  const conf = path.join(dir, 'etc/smb.conf');
  writeFileSync(conf, readFileSync(conf, 'utf8').split(tmp).join(dir));
  return dir;
}

export interface SambaDomain {
  dir: string;
  ip: string;
  domain: string;
  caPem: string;
  certSha256: string;
  samLdb: string;
  smbConf: string;
  stop(): Promise<void>;
}

function waitForPort(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/** A DC left running by a test process that was killed before its afterAll: ours, by its pid file. */
async function stopLeftover(): Promise<void> {
  const base = path.join(ROOT, '.drydock/samba');
  for (const name of readdirSync(base)) {
    const pidFile = path.join(base, name, 'run/samba.pid');
    if (!name.startsWith('run-') || name === `run-${process.pid}` || !existsSync(pidFile)) continue;
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    try {
      process.kill(pid, 'SIGTERM');
      await new Promise((r) => setTimeout(r, 1000));
    } catch {
      // Already gone.
    }
    rmSync(path.join(base, name), { recursive: true, force: true });
  }
}

/** Starts a fresh copy of the provisioned domain; resolves once LDAPS and DNS answer. */
export async function startSambaDomain(): Promise<SambaDomain> {
  const template = ensureTemplate();
  const dir = path.join(ROOT, '.drydock/samba', `run-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.dirname(dir), { recursive: true });
  execFileSync('cp', ['-a', template, dir]);
  const smbConf = path.join(dir, 'etc/smb.conf');
  // Each copy keeps its pid file to itself (the default, /run/samba, is one per machine).
  mkdirSync(path.join(dir, 'run'), { recursive: true });
  const conf = readFileSync(smbConf, 'utf8').split(template).join(dir);
  writeFileSync(smbConf, conf.replace('[global]', `[global]\n\tpid directory = ${dir}/run`));
  await stopLeftover();
  try {
    execFileSync('ip', ['addr', 'add', `${SAMBA_IP}/32`, 'dev', 'lo'], { stdio: 'ignore' });
  } catch {
    // Already there.
  }
  const child: ChildProcess = spawn('samba', ['-i', '-M', 'single', '-s', smbConf], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const kill = () => {
    if (child.exitCode === null && child.pid) process.kill(-child.pid, 'SIGKILL');
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`samba exited: ${stderr.slice(-2000)}`);
    const ldaps = await waitForPort(SAMBA_IP, 636);
    const srv =
      ldaps &&
      (await resolveSrv([SAMBA_IP], `_ldap._tcp.dc._msdcs.${DOMAIN}`, 1000).catch(() => [])).length > 0;
    if (srv) break;
    if (Date.now() > deadline) {
      kill();
      throw new Error(`samba did not come up: ${stderr.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  const caPem = readFileSync(path.join(dir, 'tls/ca.pem'), 'utf8');
  const cert = new X509Certificate(readFileSync(path.join(dir, 'tls/cert.pem')));
  return {
    dir,
    ip: SAMBA_IP,
    domain: DOMAIN,
    caPem,
    certSha256: createHash('sha256').update(cert.raw).digest('hex'),
    samLdb: path.join(dir, 'private/sam.ldb'),
    smbConf,
    async stop() {
      if (child.exitCode === null && child.pid) {
        const exited = new Promise((r) => child.once('exit', r));
        process.kill(-child.pid, 'SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000).unref())]);
        if (child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs samba-tool against the running domain's database (as the DC's own admin tools do). */
export function sambaTool(domain: SambaDomain, args: string[]): string {
  return execFileSync('samba-tool', [...args, '-H', domain.samLdb, '-s', domain.smbConf], {
    encoding: 'utf8',
  });
}
