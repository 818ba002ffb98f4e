import { readFileSync } from 'node:fs';
import { Language, Parser, type Node } from 'web-tree-sitter';
import {
  installScript,
  msiexecOutcome,
  ntlmAuth,
  parseState,
  startScript,
  stateScript,
} from '../../agent/gateway/winrm/agent-push';

/**
 * The PowerShell the gateway runs on a host to push the agent (ADR 0043), golden: a change to what
 * runs on customers' machines shows up here, in review. Each is parsed by a real PowerShell
 * grammar (tree-sitter-powershell) with no ERROR or MISSING node, hostile values included.
 */

let parser: Parser;
beforeAll(async () => {
  await Parser.init();
  const language = await Language.load(
    readFileSync(require.resolve('tree-sitter-powershell/tree-sitter-powershell.wasm')),
  );
  parser = new Parser();
  parser.setLanguage(language);
});

function parseProblems(script: string): string[] {
  const tree = parser.parse(script)!;
  const problems: string[] = [];
  const walk = (node: Node) => {
    if (node.isError || node.isMissing) problems.push(`${node.type} at ${node.startPosition.row + 1}`);
    if (node.hasError) for (const child of node.children) if (child) walk(child);
  };
  walk(tree.rootNode);
  tree.delete();
  return problems;
}

const SHA = 'ab'.repeat(32);
const URL = 'https://drydock.example.com/installers/once/t/g/Drydock-BRANCH-2-v3-7F2A.msi?token=abc-_123';

it('reads the service state and whether an install of ours runs', () => {
  expect(stateScript().split('\r\n')).toEqual([
    '# drydock:agent-state',
    "$ErrorActionPreference = 'Stop'",
    "$service = Get-Service -Name 'DrydockAgent' -ErrorAction SilentlyContinue",
    "$state = if ($null -eq $service) { 'Absent' } else { [string]$service.Status }",
    "$installing = @(Get-CimInstance -ClassName Win32_Process -Filter \"Name = 'msiexec.exe'\" | Where-Object { $_.CommandLine -like '*\\Temp\\Drydock-*.msi*' }).Count -gt 0",
    "Write-Output ('drydock-state service=' + $state + ' installing=' + $installing)",
  ]);
  expect(stateScript(60).split('\r\n').slice(2, 7)).toEqual([
    "$service = Get-Service -Name 'DrydockAgent' -ErrorAction SilentlyContinue",
    'if ($null -ne $service) {',
    '  try { $service.WaitForStatus([System.ServiceProcess.ServiceControllerStatus]::Running, [TimeSpan]::FromSeconds(60)) } catch { }',
    '  $service.Refresh()',
    '}',
  ]);
  expect(startScript()).toBe(
    "# drydock:agent-start\r\n$ErrorActionPreference = 'Stop'\r\nStart-Service -Name 'DrydockAgent'",
  );
});

it('downloads, checks the SHA-256, runs msiexec silently without a restart and exits with its code', () => {
  expect(
    installScript({ url: URL, sha256: SHA, fileName: 'Drydock-BRANCH-2-v3-7F2A.msi' }).split('\r\n'),
  ).toEqual([
    '# drydock:agent-install',
    "$ErrorActionPreference = 'Stop'",
    "$ProgressPreference = 'SilentlyContinue'",
    '[Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12',
    "$msi = Join-Path -Path $env:SystemRoot -ChildPath 'Temp\\Drydock-BRANCH-2-v3-7F2A.msi'",
    "$log = Join-Path -Path $env:SystemRoot -ChildPath 'Temp\\Drydock-agent-install.log'",
    'try {',
    `  Invoke-WebRequest -Uri '${URL}' -OutFile $msi -UseBasicParsing`,
    '} catch {',
    "  Write-Output ('drydock-install download-failed ' + $_.Exception.Message)",
    '  exit 20',
    '}',
    '$hash = (Get-FileHash -LiteralPath $msi -Algorithm SHA256).Hash',
    `if ($hash -ne '${SHA.toUpperCase()}') {`,
    '  Remove-Item -LiteralPath $msi -Force -ErrorAction SilentlyContinue',
    "  Write-Output ('drydock-install hash-mismatch ' + $hash)",
    '  exit 21',
    '}',
    "$arguments = @('/i', ('\"' + $msi + '\"'), '/qn', '/norestart', '/l*v', ('\"' + $log + '\"'))",
    "$process = Start-Process -FilePath 'msiexec.exe' -ArgumentList $arguments -Wait -PassThru",
    'Remove-Item -LiteralPath $msi -Force -ErrorAction SilentlyContinue',
    "Write-Output ('drydock-install exit=' + $process.ExitCode)",
    'exit $process.ExitCode',
  ]);
  expect(() => installScript({ url: URL, sha256: 'not-a-hash', fileName: 'a.msi' })).toThrow();
});

it('quotes hostile values into literals that parse', () => {
  const hostile = [
    "https://x/?a='; Remove-Item -Recurse C:\\ ; '",
    'https://x/‘smart’‚low‛',
    'https://x/$(Invoke-Expression calc)`n',
  ];
  for (const url of hostile) {
    const script = installScript({ url, sha256: SHA, fileName: "it's.msi" });
    expect(parseProblems(script)).toEqual([]);
    // The whole value is one single-quoted token: the injected command is text.
    expect(script).not.toContain("'; Remove-Item -Recurse C:\\ ; '\n");
  }
  for (const script of [stateScript(), stateScript(60), startScript()])
    expect(parseProblems(script)).toEqual([]);
});

it('reads msiexec exit codes as Windows Installer documents them', () => {
  expect(msiexecOutcome(0)).toMatchObject({ ok: true, restartRequired: false });
  expect(msiexecOutcome(3010)).toMatchObject({ ok: true, restartRequired: true });
  expect(msiexecOutcome(1641)).toMatchObject({ ok: true, restartRequired: true });
  expect(msiexecOutcome(1603)).toMatchObject({ ok: false, busy: false });
  expect(msiexecOutcome(1603).words).toMatch(/fatal error/);
  expect(msiexecOutcome(1618)).toMatchObject({ ok: false, busy: true });
  expect(msiexecOutcome(42).words).toBe('msiexec failed with exit code 42');
});

it('parses the state line and the credential forms', () => {
  expect(parseState('noise\r\ndrydock-state service=Running installing=False\r\n')).toEqual({
    service: 'Running',
    installing: false,
  });
  expect(parseState('Get-Service : access denied')).toBeNull();
  const password = 'p';
  expect(ntlmAuth({ domain: 'corp.example', user: 'svc', password })).toEqual({
    kind: 'ntlm',
    domain: 'corp.example',
    user: 'svc',
    password,
  });
  expect(ntlmAuth({ domain: 'corp.example', user: 'CORP\\svc', password })).toMatchObject({
    domain: 'CORP',
    user: 'svc',
  });
  expect(ntlmAuth({ domain: 'corp.example', user: 'svc@corp.example', password })).toMatchObject({
    domain: 'corp.example',
    user: 'svc',
  });
});
