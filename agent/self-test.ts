import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { readConfig } from './config';

export interface SelfTestCheck {
  name: 'config' | 'journal' | 'api';
  ok: boolean;
  detail: string;
}

/**
 * `drydock-agent.exe --self-test`: what a technician (or an RMM script) checks after an install.
 * Reads the config, writes and fsyncs a probe where the journal lives, and asks the API's
 * `/healthz`. Prints no secret: the enrollment key is reported as present or absent only.
 */
export async function selfTest(
  configFile: string,
  fetchImpl: typeof fetch = fetch,
  timeoutMs = 10_000,
): Promise<SelfTestCheck[]> {
  const checks: SelfTestCheck[] = [];
  let config;
  try {
    config = readConfig(configFile);
    checks.push({
      name: 'config',
      ok: true,
      detail:
        `${configFile}: site ${config.siteCode}, ${config.fingerprint ?? 'no fingerprint'}, ` +
        `enrollment key ${config.enrollmentKey ? 'present' : 'absent (enrolled, or a generic install)'}`,
    });
  } catch (err) {
    checks.push({ name: 'config', ok: false, detail: (err as Error).message });
    return checks;
  }
  const probe = path.join(config.stateDir, `.self-test-${randomBytes(4).toString('hex')}`);
  try {
    mkdirSync(config.stateDir, { recursive: true });
    const payload = randomBytes(16).toString('hex');
    const fd = openSync(probe, 'wx');
    try {
      writeSync(fd, payload);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (readFileSync(probe, 'utf8') !== payload) throw new Error('read back differs from what was written');
    checks.push({ name: 'journal', ok: true, detail: `${config.stateDir}: wrote, synced and read back` });
  } catch (err) {
    checks.push({ name: 'journal', ok: false, detail: `${config.stateDir}: ${(err as Error).message}` });
  } finally {
    try {
      rmSync(probe, { force: true });
    } catch {
      // Nothing was written, so there is nothing to remove.
    }
  }
  const url = new URL('/healthz', config.apiUrl).toString();
  try {
    const res = await fetchImpl(url, { signal: AbortSignal.timeout(timeoutMs) });
    // Any HTTP answer means the network path works; a 503 names what the server itself lacks.
    checks.push({ name: 'api', ok: true, detail: `${url} answered ${res.status}` });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    checks.push({ name: 'api', ok: false, detail: `${url}: ${cause ?? (err as Error).message}` });
  }
  return checks;
}
