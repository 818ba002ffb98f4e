import net from 'node:net';
import { quotePs } from '../../platform/windows/powershell';
import type { WinRmAuth } from './transport';

/**
 * Pushing the Drydock agent to a Windows host over WinRM (issue 15, ADR 0043): the PowerShell the
 * gateway runs there, and how its output and msiexec's exit codes read. Three small scripts rather
 * than one, so each step is checked before it acts: the service's state (and whether an install of
 * ours is running), the install itself, and the service's state again after it.
 *
 * Scripts travel by `-EncodedCommand` (UTF-16LE base64), so only PowerShell's own quoting matters:
 * every value is a single-quoted literal (`quotePs`, the agent's one quoting function). They are golden-tested
 * (test/unit/agent-push.test.ts); the WS-Man test server's simulated host recognises them by their
 * first line.
 */

export const AGENT_SERVICE = 'DrydockAgent';

/** Default WinRM listener ports (`winrm quickconfig`; HTTPS needs a certificate on the host). */
export const WINRM_HTTP_PORT = 5985;
export const WINRM_HTTPS_PORT = 5986;

/** Where the MSI is saved on the host (the SYSTEM temp folder; the file name is the site installer's). */
export const msiPathExpression = (fileName: string): string =>
  `Join-Path -Path $env:SystemRoot -ChildPath ${quotePs(`Temp\\${fileName}`)}`;

/**
 * The service's state, and whether an msiexec of ours is running (an earlier attempt's install
 * that outlived its gateway): `drydock-state service=<Absent|Running|Stopped|…> installing=<True|False>`.
 * With `waitSeconds`, waits that long for the service to reach Running first (after an install).
 */
export function stateScript(waitSeconds = 0): string {
  return [
    '# drydock:agent-state',
    "$ErrorActionPreference = 'Stop'",
    `$service = Get-Service -Name ${quotePs(AGENT_SERVICE)} -ErrorAction SilentlyContinue`,
    ...(waitSeconds > 0
      ? [
          'if ($null -ne $service) {',
          `  try { $service.WaitForStatus([System.ServiceProcess.ServiceControllerStatus]::Running, [TimeSpan]::FromSeconds(${Math.floor(waitSeconds)})) } catch { }`,
          '  $service.Refresh()',
          '}',
        ]
      : []),
    "$state = if ($null -eq $service) { 'Absent' } else { [string]$service.Status }",
    "$installing = @(Get-CimInstance -ClassName Win32_Process -Filter \"Name = 'msiexec.exe'\" | Where-Object { $_.CommandLine -like '*\\Temp\\Drydock-*.msi*' }).Count -gt 0",
    "Write-Output ('drydock-state service=' + $state + ' installing=' + $installing)",
  ].join('\r\n');
}

/** Starts the installed service (found stopped: a host restarted mid-install, or someone stopped it). */
export function startScript(): string {
  return [
    '# drydock:agent-start',
    "$ErrorActionPreference = 'Stop'",
    `Start-Service -Name ${quotePs(AGENT_SERVICE)}`,
  ].join('\r\n');
}

/**
 * Downloads the site's MSI from the one-time link, checks its SHA-256 (nothing runs otherwise),
 * installs it silently without restarting, and exits with msiexec's exit code. Exit 20: the
 * download failed; 21: the hash did not match (the file is deleted).
 * `Start-Process -ArgumentList` joins its items with spaces without quoting them, so the paths are
 * quoted here (about_Quoting_Rules; msiexec's own command line syntax).
 */
export function installScript(input: { url: string; sha256: string; fileName: string }): string {
  if (!/^[0-9a-f]{64}$/i.test(input.sha256)) throw new Error('sha256 must be 64 hex digits');
  return [
    '# drydock:agent-install',
    "$ErrorActionPreference = 'Stop'",
    "$ProgressPreference = 'SilentlyContinue'",
    '[Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12',
    `$msi = ${msiPathExpression(input.fileName)}`,
    "$log = Join-Path -Path $env:SystemRoot -ChildPath 'Temp\\Drydock-agent-install.log'",
    'try {',
    `  Invoke-WebRequest -Uri ${quotePs(input.url)} -OutFile $msi -UseBasicParsing`,
    '} catch {',
    "  Write-Output ('drydock-install download-failed ' + $_.Exception.Message)",
    '  exit 20',
    '}',
    '$hash = (Get-FileHash -LiteralPath $msi -Algorithm SHA256).Hash',
    `if ($hash -ne ${quotePs(input.sha256.toUpperCase())}) {`,
    '  Remove-Item -LiteralPath $msi -Force -ErrorAction SilentlyContinue',
    "  Write-Output ('drydock-install hash-mismatch ' + $hash)",
    '  exit 21',
    '}',
    "$arguments = @('/i', ('\"' + $msi + '\"'), '/qn', '/norestart', '/l*v', ('\"' + $log + '\"'))",
    "$process = Start-Process -FilePath 'msiexec.exe' -ArgumentList $arguments -Wait -PassThru",
    'Remove-Item -LiteralPath $msi -Force -ErrorAction SilentlyContinue',
    "Write-Output ('drydock-install exit=' + $process.ExitCode)",
    'exit $process.ExitCode',
  ].join('\r\n');
}

export const DOWNLOAD_FAILED_EXIT = 20;
export const HASH_MISMATCH_EXIT = 21;

export interface ServiceState {
  service: string;
  installing: boolean;
}

/** Reads `stateScript`'s line; null when the output holds none (not the script we sent, or it failed). */
export function parseState(stdout: string): ServiceState | null {
  const m = /drydock-state service=([A-Za-z]+) installing=(True|False)/.exec(stdout);
  return m ? { service: m[1]!, installing: m[2] === 'True' } : null;
}

/** What an msiexec exit code means (Windows Installer error codes, MsiExec.exe and InstMsi.exe). */
export function msiexecOutcome(code: number): {
  ok: boolean;
  restartRequired: boolean;
  busy: boolean;
  words: string;
} {
  const known: Record<number, string> = {
    0: 'installed',
    1641: 'installed; Windows Installer started a restart',
    3010: 'installed; a restart is required to finish',
    1602: 'the installation was cancelled',
    1603: 'a fatal error occurred during installation (see C:\\Windows\\Temp\\Drydock-agent-install.log on the host)',
    1618: 'another installation is already in progress on the host',
    1619: 'the installation package could not be opened',
    1620: 'the installation package is not a valid Windows Installer package',
    1625: 'a system policy prohibits this installation',
    1633: "the package is not supported on this host's platform",
    1638: 'another version of the product is already installed',
  };
  const words = known[code] ?? `msiexec failed with exit code ${code}`;
  return {
    ok: code === 0 || code === 3010 || code === 1641,
    restartRequired: code === 3010 || code === 1641,
    busy: code === 1618,
    words,
  };
}

/**
 * The WinRM NTLM identity for the site's domain credential: `DOMAIN\user`, `user@domain` or a bare
 * user name of the credential's domain.
 */
export function ntlmAuth(credential: { domain: string; user: string; password: string }): WinRmAuth {
  const { user, password } = credential;
  const slash = user.indexOf('\\');
  if (slash > 0) return { kind: 'ntlm', domain: user.slice(0, slash), user: user.slice(slash + 1), password };
  const at = user.lastIndexOf('@');
  if (at > 0) return { kind: 'ntlm', domain: user.slice(at + 1), user: user.slice(0, at), password };
  return { kind: 'ntlm', domain: credential.domain, user, password };
}

/** Whether a TCP connection to host:port opens within `timeoutMs`, and if not, why (in words). */
export function tcpReachable(
  host: string,
  port: number,
  timeoutMs: number,
): Promise<{ open: boolean; detail: string }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (open: boolean, detail: string) => {
      socket.destroy();
      resolve({ open, detail });
    };
    socket.setTimeout(timeoutMs, () => done(false, `${port}: no answer within ${timeoutMs} ms`));
    socket.once('connect', () => done(true, `${port}: open`));
    socket.once('error', (err: NodeJS.ErrnoException) => done(false, `${port}: ${err.code ?? err.message}`));
  });
}
