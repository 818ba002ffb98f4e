import type { PsResult, PsRunOptions } from '../../agent/platform/windows/powershell';

/** A PowerShell runner that records each script and answers with `answer(script)`. */
export function fakeRunner(answer: (script: string) => PsResult) {
  const calls: { script: string; opts?: PsRunOptions }[] = [];
  const run = async (script: string, opts?: PsRunOptions) => {
    calls.push({ script, opts });
    return answer(script);
  };
  return { run, calls };
}

export const ok = (stdout = ''): PsResult => ({ exitCode: 0, stdout, stderr: '' });
/** What runPowerShellJson's wrapper prints: base64 of the UTF-8 JSON. */
export const json = (value: unknown): PsResult =>
  ok(Buffer.from(JSON.stringify(value), 'utf8').toString('base64'));
