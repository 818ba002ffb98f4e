import { execFile } from 'node:child_process';
import path from 'node:path';
import { PlatformError } from '../platform';

/**
 * The one place that quotes values for PowerShell and runs it. Every script goes through
 * `-EncodedCommand`, so no cmd.exe or argv quoting is ever involved; values inside a script are
 * single-quoted literals, in which PowerShell expands nothing (`$`, backtick, `$(…)` are plain text).
 */

/** PowerShell treats all of these as single quotes, and doubles of any of them as one literal quote. */
const SINGLE_QUOTES = /['\u2018\u2019\u201A\u201B]/g;

/** A PowerShell single-quoted string literal holding exactly `value`. */
export function quotePs(value: string): string {
  // NUL ends strings in native code paths a value may reach (registry, file APIs): refuse, don't truncate.
  if (value.includes('\0')) throw new Error('a PowerShell string cannot contain a NUL character');
  return `'${value.replace(SINGLE_QUOTES, (quote) => quote + quote)}'`;
}

export type PsScalar = string | number | boolean;
export type PsValue = PsScalar | readonly PsScalar[];

function renderScalar(value: PsScalar): string {
  if (typeof value === 'string') return quotePs(value);
  if (typeof value === 'boolean') return value ? '$true' : '$false';
  if (!Number.isFinite(value)) throw new Error(`cannot render ${value} as a PowerShell number`);
  // String(number) is locale-independent; parentheses keep a negative number from reading as a
  // parameter name in argument mode.
  return value < 0 ? `(${String(value)})` : String(value);
}

function renderValue(value: PsValue): string {
  return Array.isArray(value) ? `@(${value.map(renderScalar).join(',')})` : renderScalar(value as PsScalar);
}

/**
 * Builds a script with every interpolated value rendered as a complete PowerShell literal. Put
 * `${value}` where an expression or argument goes, never inside quotes in the template.
 */
export function psCommand(template: TemplateStringsArray, ...values: PsValue[]): string {
  return template.reduce((script, text, i) => script + renderValue(values[i - 1]!) + text);
}

/** The argument for `powershell.exe -EncodedCommand`: base64 of the script's UTF-16LE bytes. */
export function encodeCommand(script: string): string {
  return Buffer.from(script, 'utf16le').toString('base64');
}

export interface PsResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface PsRunOptions {
  /** Default 60 s; the process is killed after it. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Written to the process's stdin, which is then closed. The way secrets travel (see saveProtected). */
  stdin?: string;
}

export type PsRunner = (script: string, opts?: PsRunOptions) => Promise<PsResult>;

/** Exceptions a second attempt cannot fix: the machine or the input must change. */
const PERMANENT_TYPES = new Set([
  'System.UnauthorizedAccessException',
  'System.Security.SecurityException',
  'System.ArgumentException',
  'System.ArgumentNullException',
  'System.ArgumentOutOfRangeException',
  'System.NotSupportedException',
  'System.PlatformNotSupportedException',
  'System.Management.Automation.ParameterBindingException',
  'System.Management.Automation.CommandNotFoundException',
]);
/** E_ACCESSDENIED, ERROR_NOT_SUPPORTED, ERROR_BAD_EXE_FORMAT, ERROR_INVALID_PARAMETER as HRESULTs. */
const PERMANENT_HRESULTS = new Set([0x80070005, 0x80070032, 0x800700c1, 0x80070057].map((h) => h | 0));

export interface ScriptErrorReport {
  message: string;
  type?: string;
  hresult?: number;
}

/** The error report a failed script wrote (see POSTLUDE), or the first plain line of stderr. */
export function parseScriptError(stderr: string): ScriptErrorReport {
  const line = stderr.split(/\r?\n/).find((l) => l.startsWith('DRYDOCK-ERROR:'));
  if (line) {
    try {
      const report = JSON.parse(
        Buffer.from(line.slice('DRYDOCK-ERROR:'.length), 'base64').toString('utf8'),
      ) as Record<string, unknown>;
      return {
        message: typeof report.message === 'string' ? report.message.trim().slice(0, 1000) : '',
        ...(typeof report.type === 'string' ? { type: report.type } : {}),
        ...(typeof report.hresult === 'number' ? { hresult: report.hresult | 0 } : {}),
      };
    } catch {
      // fall through to the plain text
    }
  }
  return { message: firstLine(stderr) };
}

/**
 * A script that failed. Carries the script's error message (never the script), so callers may log
 * it freely; `permanent` when the exception says a retry cannot help.
 */
export class PowerShellError extends PlatformError {
  override name = 'PowerShellError';
  readonly detail: string;
  readonly errorType: string | undefined;
  constructor(
    readonly exitCode: number,
    detail: string | ScriptErrorReport,
  ) {
    const report = typeof detail === 'string' ? { message: detail } : detail;
    super(
      `PowerShell exited with code ${exitCode}${report.message ? `: ${report.message}` : ''}`,
      (report.type !== undefined && PERMANENT_TYPES.has(report.type)) ||
        (report.hresult !== undefined && PERMANENT_HRESULTS.has(report.hresult)),
    );
    this.detail = report.message;
    this.errorType = report.type;
  }
}

// Terminating errors everywhere, so a failed cmdlet fails the script with exit code 1 and its
// message alone on stderr (PowerShell's own error view would echo script lines). Progress records
// would otherwise arrive on stderr as CLIXML.
const PRELUDE = `$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
try {
`;
// The error goes out as base64 of UTF-8 JSON on one line: stderr is encoded with the console's
// OEM code page, which garbles a localised message ("Zugriff verweigert" in German is fine, Czech
// or Japanese is not). The exception's type and HResult travel with it, so the agent can tell an
// error that a retry cannot fix (access denied, invalid argument) from one it can. What a .NET
// method throws arrives wrapped in a MethodInvocationException (an ExtendedTypeSystemException,
// its InnerException the original: Microsoft Learn, System.Management.Automation): the cause is
// reported, so `[System.IO.File]::Open` failing with access denied is permanent, not retried.
const POSTLUDE = `
} catch {
  $e = $_.Exception
  while (($e -is [System.Management.Automation.ExtendedTypeSystemException] -or $e -is [System.Reflection.TargetInvocationException]) -and $e.InnerException) { $e = $e.InnerException }
  $report = [pscustomobject]@{ message = $e.Message; type = $e.GetType().FullName; hresult = $e.HResult }
  [Console]::Error.WriteLine('DRYDOCK-ERROR:' + [Convert]::ToBase64String([System.Text.Encoding]::UTF8.GetBytes((ConvertTo-Json -InputObject $report -Compress))))
  exit 1
}`;

// Windows caps a command line at 32,767 characters.
const MAX_ENCODED_LENGTH = 30_000;

/**
 * Windows PowerShell 5.1 by absolute path: it ships with every supported Windows, and a bare
 * `powershell.exe` would be looked up in the current directory first. SystemRoot is the OS's own
 * variable, not configuration.
 */
function powershellExe(): string {
  const systemRoot = process.env.SystemRoot ?? 'C:\\Windows';
  return path.win32.join(systemRoot, 'System32', 'WindowsPowerShell', 'v1.0', 'powershell.exe');
}

/** Runs a script in a fresh `powershell.exe`, without a shell. Rejects only if it could not run to an exit code. */
/** The whole text powershell.exe runs for `script` (error handling around it). */
export function wrapScript(script: string): string {
  return PRELUDE + script + POSTLUDE;
}

export function runPowerShell(script: string, opts: PsRunOptions = {}): Promise<PsResult> {
  const encoded = encodeCommand(wrapScript(script));
  if (encoded.length > MAX_ENCODED_LENGTH) return Promise.reject(new Error('PowerShell script too long'));
  const args = ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-EncodedCommand', encoded];
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = execFile(
      powershellExe(),
      args,
      {
        timeout: timeoutMs,
        signal: opts.signal,
        windowsHide: true,
        maxBuffer: 16 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        if (!error) return resolve({ exitCode: 0, stdout, stderr });
        if (typeof error.code === 'number') return resolve({ exitCode: error.code, stdout, stderr });
        // Fresh errors: Node's own carry the whole command line, encoded script included.
        if (opts.signal?.aborted) return reject(opts.signal.reason);
        if (error.killed) return reject(new Error(`PowerShell timed out after ${timeoutMs} ms`));
        reject(
          new Error(
            `PowerShell could not run: ${typeof error.code === 'string' ? error.code : 'unknown error'}`,
          ),
        );
      },
    );
    // Always close stdin: powershell.exe with a redirected stdin otherwise waits for it forever. A
    // process that exits before reading it makes the write fail with EPIPE; its exit code tells more.
    child.stdin?.on('error', () => {});
    child.stdin?.end(opts.stdin ?? '');
  });
}

/** The first non-empty line of stderr, bounded. */
export function firstLine(text: string): string {
  const line = text.split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  return line.trim().slice(0, 300);
}

/**
 * Runs a script and parses its output as JSON (several output objects become an array). The JSON
 * is sent as base64 of its UTF-8 bytes, so the console code page (OEM 437/850/… on Windows) cannot
 * garble non-ASCII names.
 */
export async function runPowerShellJson<T>(
  script: string,
  opts: PsRunOptions = {},
  run: PsRunner = runPowerShell,
): Promise<T> {
  // `& { }` so that every statement's output is converted, not only the last one's.
  const wrapped = `$json = & {
${script}
} | ConvertTo-Json -Depth 6 -Compress
if ($null -eq $json) { $json = 'null' }
[Console]::Out.Write([Convert]::ToBase64String([System.Text.Encoding]::UTF8.GetBytes($json)))`;
  const result = await run(wrapped, opts);
  if (result.exitCode !== 0) throw new PowerShellError(result.exitCode, parseScriptError(result.stderr));
  try {
    return JSON.parse(Buffer.from(result.stdout.trim(), 'base64').toString('utf8')) as T;
  } catch {
    throw new Error('PowerShell output was not the expected JSON');
  }
}
