import { PlatformError } from '../../agent/platform/platform';
import {
  parseScriptError,
  PowerShellError,
  runPowerShellJson,
  wrapScript,
} from '../../agent/platform/windows/powershell';
import { rejection } from '../helpers/rejection';

/**
 * How a failed script's error reaches the agent (issue 12): the POSTLUDE writes the exception's
 * message, type and HResult as base64 of UTF-8 JSON on one stderr line, so a localised message
 * survives the OEM code page, and the agent tells what a retry cannot fix from what it can.
 */
const report = (value: Record<string, unknown>) =>
  `DRYDOCK-ERROR:${Buffer.from(JSON.stringify(value), 'utf8').toString('base64')}`;

/** HRESULTs as .NET's Exception.HResult holds them: signed 32-bit. */
const hresult = (unsigned: number) => unsigned | 0;

describe('the error report a script writes', () => {
  it('is base64 of UTF-8 JSON with the message, type and HResult of the cause, on one line', () => {
    const wrapped = wrapScript('Get-Thing');
    expect(
      wrapped.startsWith(
        "$ErrorActionPreference = 'Stop'\n$ProgressPreference = 'SilentlyContinue'\ntry {\n",
      ),
    ).toBe(true);
    for (const line of [
      // What a .NET method throws arrives in a MethodInvocationException: the original is reported.
      '  while (($e -is [System.Management.Automation.ExtendedTypeSystemException] -or $e -is [System.Reflection.TargetInvocationException]) -and $e.InnerException) { $e = $e.InnerException }',
      '  $report = [pscustomobject]@{ message = $e.Message; type = $e.GetType().FullName; hresult = $e.HResult }',
      "  [Console]::Error.WriteLine('DRYDOCK-ERROR:' + [Convert]::ToBase64String([System.Text.Encoding]::UTF8.GetBytes((ConvertTo-Json -InputObject $report -Compress))))",
      '  exit 1',
    ])
      expect(wrapped).toContain(`\n${line}\n`);
  });
});

describe('parseScriptError', () => {
  it.each([
    'Der Zugriff auf den Registrierungsschlüssel wurde verweigert.',
    'Přístup odepřen. Žluťoučký kůň úpěl ďábelské ódy.',
    'アクセスが拒否されました。',
    '拒绝访问。',
    'Доступ запрещён.',
    'رفض الوصول',
  ])('keeps the localised message %j exactly', (message) => {
    const parsed = parseScriptError(
      `${report({ message: `  ${message}\r\n`, type: 'System.UnauthorizedAccessException', hresult: hresult(0x80070005) })}\r\n`,
    );
    expect(parsed).toEqual({
      message,
      type: 'System.UnauthorizedAccessException',
      hresult: hresult(0x80070005),
    });
  });

  it('finds the report among other stderr lines, and bounds the message', () => {
    const stderr = [
      'WARNING: something PowerShell printed first',
      report({ message: 'x'.repeat(5000), type: 'System.IO.IOException', hresult: hresult(0x80070020) }),
      '',
    ].join('\r\n');
    const parsed = parseScriptError(stderr);
    expect(parsed.message).toBe('x'.repeat(1000));
    expect(parsed.type).toBe('System.IO.IOException');
    expect(parsed.hresult).toBe(hresult(0x80070020));
  });

  it('reads an unsigned HRESULT as the signed one .NET uses, and leaves out what is missing', () => {
    expect(parseScriptError(report({ message: 'm', hresult: 0x80070005 }))).toEqual({
      message: 'm',
      hresult: hresult(0x80070005),
    });
    expect(parseScriptError(report({ message: 'm', type: null, hresult: 'x' }))).toEqual({ message: 'm' });
  });

  it('falls back to the first line of plain stderr (no report, or one that is not JSON)', () => {
    expect(parseScriptError('\r\nAccess is denied.\r\nAt line:1 char:1\r\n')).toEqual({
      message: 'Access is denied.',
    });
    expect(parseScriptError('DRYDOCK-ERROR:not-base64-json\r\n')).toEqual({
      message: 'DRYDOCK-ERROR:not-base64-json',
    });
    expect(parseScriptError('')).toEqual({ message: '' });
  });
});

describe('PowerShellError', () => {
  const error = (stderr: string) => new PowerShellError(1, parseScriptError(stderr));

  it.each([
    ['E_ACCESSDENIED', 0x80070005],
    ['ERROR_NOT_SUPPORTED', 0x80070032],
    ['ERROR_BAD_EXE_FORMAT', 0x800700c1],
    ['E_INVALIDARG', 0x80070057],
  ])('is permanent for %s (0x%s)', (_name, code) => {
    const e = error(report({ message: 'no', type: 'System.Exception', hresult: hresult(code) }));
    expect(e.permanent).toBe(true);
  });

  it.each([
    'System.UnauthorizedAccessException',
    'System.Security.SecurityException',
    'System.ArgumentException',
    'System.ArgumentNullException',
    'System.ArgumentOutOfRangeException',
    'System.NotSupportedException',
    'System.PlatformNotSupportedException',
    'System.Management.Automation.ParameterBindingException',
    'System.Management.Automation.CommandNotFoundException',
  ])('is permanent for an exception of type %s, whatever its code', (type) => {
    expect(error(report({ message: 'no', type, hresult: hresult(0x80004005) })).permanent).toBe(true);
  });

  it.each([
    ['E_FAIL', 0x80004005],
    ['ERROR_SHARING_VIOLATION', 0x80070020],
    ['RPC_S_SERVER_UNAVAILABLE', 0x800706ba],
    ['COR_E_IO', 0x80131620],
    ['an unknown code', 0x8badf00d],
  ])('is retryable for %s (0x%s) in an exception of another type', (_name, code) => {
    const e = error(report({ message: 'busy', type: 'System.IO.IOException', hresult: hresult(code) }));
    expect(e.permanent).toBe(false);
  });

  it('is retryable without a report (plain stderr says nothing of the cause)', () => {
    expect(error('Access is denied.').permanent).toBe(false);
  });

  it('carries the message, type and exit code, never the script, and is a PlatformError', () => {
    const e = new PowerShellError(
      1,
      parseScriptError(
        report({
          message: 'Zugriff verweigert',
          type: 'System.UnauthorizedAccessException',
          hresult: hresult(0x80070005),
        }),
      ),
    );
    expect(e).toBeInstanceOf(PlatformError);
    expect(e.name).toBe('PowerShellError');
    expect(e.message).toBe('PowerShell exited with code 1: Zugriff verweigert');
    expect(e.detail).toBe('Zugriff verweigert');
    expect(e.errorType).toBe('System.UnauthorizedAccessException');
    expect(e.exitCode).toBe(1);
    expect(new PowerShellError(3, '').message).toBe('PowerShell exited with code 3');
  });

  it('is what runPowerShellJson throws for a failed script, the localised message readable', async () => {
    const message =
      'Der Zugriff auf den Registrierungsschlüssel „HKEY_CURRENT_USER\\…\\TaskbarDa“ wurde verweigert.';
    const run = async () => ({
      exitCode: 1,
      stdout: '',
      stderr: report({ message, type: 'System.UnauthorizedAccessException', hresult: hresult(0x80070005) }),
    });
    const e = await rejection(runPowerShellJson("Set-Secret -Value 'hunter2'", {}, run));
    expect(e).toBeInstanceOf(PowerShellError);
    expect((e as PowerShellError).permanent).toBe(true);
    expect(e.message).toBe(`PowerShell exited with code 1: ${message}`);
    expect(e.message).not.toContain('hunter2');
  });
});
