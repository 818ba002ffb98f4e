import { execFile } from 'node:child_process';
import {
  encodeCommand,
  PowerShellError,
  psCommand,
  quotePs,
  runPowerShell,
  runPowerShellJson,
  type PsResult,
} from '../../agent/platform/windows/powershell';
import { rejection } from '../helpers/rejection';

jest.mock('node:child_process', () => ({ execFile: jest.fn() }));

// No PowerShell on this machine (Debian ships none), so literals are checked against the tokenizer's
// rule: inside '…', any of these quote characters followed by another one stands for the second;
// a lone one ends the string.
const QUOTES = new Set(["'", '\u2018', '\u2019', '\u201A', '\u201B']);

function readPsLiteral(literal: string): string {
  expect(literal[0]).toBe("'");
  let value = '';
  let i = 1;
  for (; i < literal.length; i++) {
    const c = literal[i]!;
    if (QUOTES.has(c)) {
      if (!QUOTES.has(literal[i + 1] ?? '')) break;
      i++;
      value += literal[i];
    } else {
      value += c;
    }
  }
  expect(i).toBe(literal.length - 1); // the string ends at the last character, nowhere earlier
  return value;
}

const hostile = [
  '',
  "it's",
  "''",
  "'; Remove-Item -Recurse C:\\ ; '",
  '\u2018smart\u2019 \u201Alow\u201B',
  "\u2019'\u2018",
  '$(Invoke-Expression calc)',
  '$env:USERNAME ${x} @(1) @{a=1}',
  'back`tick `n `0 `$',
  'a; b | c & d && e || f',
  'line1\nline2\r\nline3',
  '"double" and \u201Cdouble smart\u201D',
  'unicode: é ü 中文 😀 \u202E rtl',
  '#comment <# block #>',
  "trailing quote'",
];

describe('quotePs', () => {
  it.each(hostile)('round-trips %j', (value) => {
    expect(readPsLiteral(quotePs(value))).toBe(value);
  });

  it('doubles every kind of single quote', () => {
    expect(quotePs("a'b\u2018c\u2019d\u201Ae\u201Bf")).toBe(
      "'a''b\u2018\u2018c\u2019\u2019d\u201A\u201Ae\u201B\u201Bf'",
    );
  });

  it('refuses NUL', () => {
    expect(() => quotePs('a\0b')).toThrow(/NUL/);
  });
});

describe('psCommand', () => {
  it('renders each value as a complete literal', () => {
    const name = "x'; Stop-Computer; '";
    const script = psCommand`Get-Thing -Name ${name} -Count ${3} -Offset ${-2} -Ratio ${0.5} -Force:${true} -Tags ${['a', "b'c"]} -None ${[]}`;
    expect(script).toBe(
      "Get-Thing -Name 'x''; Stop-Computer; ''' -Count 3 -Offset (-2) -Ratio 0.5 -Force:$true -Tags @('a','b''c') -None @()",
    );
  });

  it('renders false and quotes strings that look like code', () => {
    expect(psCommand`${false} ${'$true'}`).toBe("$false '$true'");
  });

  it('refuses numbers PowerShell cannot read back', () => {
    expect(() => psCommand`${Number.NaN}`).toThrow();
    expect(() => psCommand`${Infinity}`).toThrow();
  });
});

describe('encodeCommand', () => {
  it.each(hostile)('decodes as UTF-16LE back to the script %j', (value) => {
    const script = `Write-Output ${quotePs(value)}`;
    const encoded = encodeCommand(script);
    expect(encoded).toMatch(/^[A-Za-z0-9+/]*={0,2}$/);
    expect(Buffer.from(encoded, 'base64').toString('utf16le')).toBe(script);
  });
});

describe('runPowerShell', () => {
  type Callback = (error: unknown, stdout: string, stderr: string) => void;
  const mockedExecFile = execFile as unknown as jest.Mock;
  let stdinEnd: jest.Mock;
  let callback: Callback;

  beforeEach(() => {
    stdinEnd = jest.fn();
    mockedExecFile.mockReset().mockImplementation((_file, _args, _opts, cb: Callback) => {
      callback = cb;
      return { stdin: { on: jest.fn(), end: stdinEnd } };
    });
  });

  const call = () => mockedExecFile.mock.calls[0] as [string, string[], Record<string, unknown>];

  it('runs Windows PowerShell by absolute path with the script encoded and the input on stdin', async () => {
    const promise = runPowerShell('Get-Date', { stdin: 'c2VjcmV0', timeoutMs: 5000 });
    callback(null, 'out', '');
    await expect(promise).resolves.toEqual({ exitCode: 0, stdout: 'out', stderr: '' });

    const [file, args, opts] = call();
    expect(file).toMatch(/\\System32\\WindowsPowerShell\\v1\.0\\powershell\.exe$/);
    expect(args.slice(0, 5)).toEqual([
      '-NoProfile',
      '-NonInteractive',
      '-ExecutionPolicy',
      'Bypass',
      '-EncodedCommand',
    ]);
    expect(args).toHaveLength(6);
    const script = Buffer.from(args[5]!, 'base64').toString('utf16le');
    expect(script).toContain("$ErrorActionPreference = 'Stop'");
    expect(script).toContain('\nGet-Date\n');
    expect(opts).toMatchObject({ timeout: 5000, windowsHide: true });
    expect(opts.shell).toBeUndefined();
    expect(stdinEnd).toHaveBeenCalledWith('c2VjcmV0');
    expect(JSON.stringify(args)).not.toContain('c2VjcmV0');
  });

  it('closes stdin even without input, so PowerShell does not wait on it', () => {
    void runPowerShell('Get-Date');
    expect(stdinEnd).toHaveBeenCalledWith('');
  });

  it('resolves with a non-zero exit code', async () => {
    const promise = runPowerShell('exit 3');
    callback(Object.assign(new Error('Command failed'), { code: 3 }), '', 'boom');
    await expect(promise).resolves.toEqual({ exitCode: 3, stdout: '', stderr: 'boom' });
  });

  it('rejects on a timeout without echoing the command line', async () => {
    const promise = runPowerShell('Start-Sleep 99', { timeoutMs: 10 });
    const encoded = call()[1][5]!;
    callback(
      Object.assign(new Error(`Command failed: powershell.exe ${encoded}`), { killed: true, code: null }),
      '',
      '',
    );
    const error = await rejection(promise);
    expect(error.message).toBe('PowerShell timed out after 10 ms');
    expect(JSON.stringify(error)).not.toContain(encoded);
  });

  it('rejects when powershell.exe cannot start', async () => {
    const promise = runPowerShell('Get-Date');
    callback(Object.assign(new Error('spawn ENOENT'), { code: 'ENOENT' }), '', '');
    await expect(promise).rejects.toThrow('PowerShell could not run: ENOENT');
  });

  it('rejects with the abort reason when aborted', async () => {
    const controller = new AbortController();
    const promise = runPowerShell('Get-Date', { signal: controller.signal });
    controller.abort(new Error('agent stopping'));
    callback(Object.assign(new Error('aborted'), { name: 'AbortError', code: 'ABORT_ERR' }), '', '');
    await expect(promise).rejects.toThrow('agent stopping');
  });

  it('refuses a script too long for a Windows command line', async () => {
    await expect(runPowerShell('#'.repeat(20_000))).rejects.toThrow(/too long/);
    expect(mockedExecFile).not.toHaveBeenCalled();
  });
});

describe('runPowerShellJson', () => {
  const base64Json = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64');

  it('converts the whole script output to JSON and parses it, whatever the code page', async () => {
    const run = jest.fn(async (_script: string): Promise<PsResult> => ({
      exitCode: 0,
      stdout: base64Json({ name: 'Müller 中' }),
      stderr: '',
    }));
    await expect(runPowerShellJson('$a = 1\n[pscustomobject]@{ name = $a }', {}, run)).resolves.toEqual({
      name: 'Müller 中',
    });
    const script = run.mock.calls[0]![0];
    expect(script).toContain('$a = 1\n[pscustomobject]@{ name = $a }');
    expect(script).toContain('| ConvertTo-Json -Depth 6 -Compress');
  });

  it('turns a non-zero exit into an error with the first stderr line and without the script', async () => {
    const script = "Set-Thing -Password 'hunter2'";
    const run = async (): Promise<PsResult> => ({
      exitCode: 1,
      stdout: '',
      stderr: '\r\nAccess is denied.\r\nAt line:1 char:1\r\n+ Set-Thing -Password hunter2\r\n',
    });
    const error = await rejection(runPowerShellJson(script, {}, run));
    expect(error).toBeInstanceOf(PowerShellError);
    expect(error.message).toBe('PowerShell exited with code 1: Access is denied.');
    expect(error.message).not.toContain('hunter2');
  });

  it('refuses output that is not the expected JSON', async () => {
    const run = async (): Promise<PsResult> => ({ exitCode: 0, stdout: 'WARNING: something', stderr: '' });
    await expect(runPowerShellJson('1', {}, run)).rejects.toThrow(
      'PowerShell output was not the expected JSON',
    );
  });
});
