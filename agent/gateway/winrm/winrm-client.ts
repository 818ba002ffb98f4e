import {
  Action,
  commandBody,
  createShellBody,
  envelope,
  OPERATION_TIMED_OUT,
  parseEnvelope,
  readFault,
  readReceive,
  receiveBody,
  signalBody,
  text,
  type ReceiveChunk,
} from './wsman';
import { WinRmError, WinRmTransport, type WinRmEndpoint } from './transport';

/**
 * A small WS-Management client for the Windows remote shell: create a shell, run a command, receive
 * its output until it is done (heartbeating while it waits), signal, delete. It is what the site
 * gateway uses to push the agent (ADR 0027). Windows holds a Receive open for up to
 * OperationTimeout and then answers with a "timed out" fault, which only means "ask again".
 */

export interface WinRmClientOptions {
  /** How long the listener may hold one Receive before answering "no output yet" (seconds). */
  operationTimeoutSeconds?: number;
}

export interface Progress {
  elapsedMs: number;
  stdoutBytes: number;
  stderrBytes: number;
}

export interface RunOptions {
  /** Give up (terminate the command, delete the shell) after this long. */
  timeoutMs?: number;
  /** Called after every Receive, output or not: the activity's heartbeat. Throwing aborts the run. */
  heartbeat?: (progress: Progress) => void | Promise<void>;
}

export interface CommandResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** `powershell.exe -EncodedCommand` takes the script as base64 of UTF-16LE: no quoting at all. */
export const encodePowerShell = (script: string): string => Buffer.from(script, 'utf16le').toString('base64');

export class WinRmClient {
  private readonly transport: WinRmTransport;
  private readonly operationTimeoutSeconds: number;

  constructor(endpoint: WinRmEndpoint, options: WinRmClientOptions = {}) {
    this.transport = new WinRmTransport(endpoint);
    this.operationTimeoutSeconds = options.operationTimeoutSeconds ?? 20;
  }

  close(): void {
    this.transport.close();
  }

  private async send(action: string, body: string, shellId?: string, options?: Record<string, string>) {
    const { xml, messageId } = envelope({
      to: this.transport.url,
      action,
      shellId,
      options,
      body,
      operationTimeoutSeconds: this.operationTimeoutSeconds,
    });
    // The HTTP wait must outlast the listener's own OperationTimeout.
    const res = await this.transport.post(xml, (this.operationTimeoutSeconds + 15) * 1000);
    let parsed;
    try {
      parsed = parseEnvelope(res.xml);
    } catch {
      throw new WinRmError('protocol', `the listener answered HTTP ${res.status} without a SOAP envelope`);
    }
    const fault = readFault(parsed.body);
    if (fault) return { ...parsed, fault };
    if (res.status !== 200) throw new WinRmError('protocol', `the listener answered HTTP ${res.status}`);
    const relatesTo = text(parsed.header.RelatesTo);
    if (relatesTo && relatesTo.toLowerCase() !== messageId.toLowerCase()) {
      throw new WinRmError('protocol', 'the answer relates to another message');
    }
    return { ...parsed, fault: null };
  }

  private static failOn(fault: ReturnType<typeof readFault>, what: string): void {
    if (fault) {
      throw new WinRmError(
        'protocol',
        `${what}: ${fault.reason || fault.subcode || fault.code} (WS-Management fault ${fault.wsmanCode ?? fault.code})`,
      );
    }
  }

  async createShell(): Promise<string> {
    const { body, options } = createShellBody();
    const res = await this.send(Action.Create, body, undefined, options);
    WinRmClient.failOn(res.fault, 'creating a shell failed');
    const shellId =
      text(res.body?.Shell?.ShellId) ||
      text(
        (res.body?.ResourceCreated?.ReferenceParameters?.SelectorSet?.Selector ?? []).find(
          (s: { '@Name'?: string }) => s['@Name'] === 'ShellId',
        ),
      );
    if (!shellId) throw new WinRmError('protocol', 'the listener created a shell without an id');
    return shellId;
  }

  async command(shellId: string, command: string, args: string[] = []): Promise<string> {
    const res = await this.send(Action.Command, commandBody(command, args), shellId, {
      WINRS_CONSOLEMODE_STDIN: 'TRUE',
      WINRS_SKIP_CMD_SHELL: 'FALSE',
    });
    WinRmClient.failOn(res.fault, 'starting the command failed');
    const commandId = text(res.body?.CommandResponse?.CommandId);
    if (!commandId) throw new WinRmError('protocol', 'the listener started a command without an id');
    return commandId;
  }

  /** One Receive; a "timed out" fault is an empty, unfinished chunk. */
  async receive(shellId: string, commandId: string): Promise<ReceiveChunk> {
    const res = await this.send(Action.Receive, receiveBody(commandId), shellId);
    if (res.fault?.wsmanCode === OPERATION_TIMED_OUT) {
      return { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), done: false, exitCode: null };
    }
    WinRmClient.failOn(res.fault, 'receiving output failed');
    return readReceive(res.body);
  }

  async signal(shellId: string, commandId: string): Promise<void> {
    const res = await this.send(Action.Signal, signalBody(commandId), shellId);
    WinRmClient.failOn(res.fault, 'signalling the command failed');
  }

  async deleteShell(shellId: string): Promise<void> {
    const res = await this.send(Action.Delete, '', shellId);
    WinRmClient.failOn(res.fault, 'deleting the shell failed');
  }

  /** Runs one command in a fresh shell and returns its decoded output and exit code. */
  async run(command: string, args: string[] = [], opts: RunOptions = {}): Promise<CommandResult> {
    const started = Date.now();
    const shellId = await this.createShell();
    let commandId: string | null = null;
    try {
      commandId = await this.command(shellId, command, args);
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const progress = (): Progress => ({
        elapsedMs: Date.now() - started,
        stdoutBytes: out.reduce((n, b) => n + b.length, 0),
        stderrBytes: err.reduce((n, b) => n + b.length, 0),
      });
      for (;;) {
        const chunk = await this.receive(shellId, commandId);
        out.push(chunk.stdout);
        err.push(chunk.stderr);
        await opts.heartbeat?.(progress());
        if (chunk.done) {
          const result = {
            stdout: Buffer.concat(out).toString('utf8'),
            stderr: Buffer.concat(err).toString('utf8'),
            exitCode: chunk.exitCode ?? -1,
          };
          await this.signal(shellId, commandId).catch(() => undefined);
          commandId = null;
          return result;
        }
        if (opts.timeoutMs !== undefined && Date.now() - started > opts.timeoutMs) {
          throw new WinRmError(
            'timeout',
            `the command did not finish within ${Math.round(opts.timeoutMs / 1000)} s`,
          );
        }
      }
    } finally {
      // Best effort: a terminated command and a deleted shell leave nothing running on the target.
      if (commandId) await this.signal(shellId, commandId).catch(() => undefined);
      await this.deleteShell(shellId).catch(() => undefined);
    }
  }

  /** Runs a PowerShell script (no profile, non-interactive), passed encoded so nothing needs quoting. */
  runPowerShell(script: string, opts: RunOptions = {}): Promise<CommandResult> {
    return this.run(
      'powershell.exe',
      [
        '-NoProfile',
        '-NonInteractive',
        '-ExecutionPolicy',
        'Bypass',
        '-EncodedCommand',
        encodePowerShell(script),
      ],
      opts,
    );
  }
}
