import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';
import { XMLParser } from 'fast-xml-parser';
import { NtlmSessionSecurity } from '../../agent/gateway/winrm/ntlm';
import { decryptBody, encryptBody } from '../../agent/gateway/winrm/transport';
import { acceptAuthenticate, challengeMessage, type ChallengeState } from './ntlm-acceptor';

/**
 * A test WS-Management listener modelled on a Windows host's WinRM service: HTTP with NTLM and
 * message encryption only (AllowUnencrypted=false, Basic off: a domain listener's defaults), HTTPS
 * with Basic or NTLM. It creates shells, runs the commands it is given on a **simulated host**
 * (hostname, whoami, echo, exit codes, waits, PowerShell by -EncodedCommand), holds a Receive for
 * its operation timeout and answers "timed out" as Windows does, and records every command.
 * Debian's `python3-winrm` authenticates to it and runs commands (test/integration/winrm.test.ts),
 * which is what makes it a fair stand-in for our own client's tests.
 */

export interface RanCommand {
  user: string;
  command: string;
  args: string[];
  /** For `powershell -EncodedCommand`, the decoded script. */
  script?: string;
  transport: 'http-encrypted' | 'https';
}

export interface CommandIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Aborted when the client signals terminate or deletes the shell. */
  signal: AbortSignal;
}

/** Runs one command on the simulated host; resolves to its exit code. */
export type CommandHandler = (cmd: RanCommand, io: CommandIo) => Promise<number>;

export interface WsManTestServerOptions {
  /** "DOMAIN\user" → password (case-insensitive names). */
  users: Record<string, string>;
  computer?: string;
  domain?: string;
  /** PowerShell scripts (decoded) go here; default: prints a line and exits 0. */
  powershell?: (script: string, io: CommandIo, cmd: RanCommand) => Promise<number>;
  /** How long a Receive with no output waits before the "timed out" fault (ms). */
  receiveHoldMs?: number;
  tls?: { key: string; cert: string };
  /** Close every connection after this many requests (to test re-authentication). */
  closeAfterRequests?: number;
  /** The address to listen on (default 127.0.0.1): any of 127/8 is loopback, so hosts can share a port. */
  host?: string;
  /** The HTTP port (default: any free one). */
  httpPort?: number;
}

interface Command {
  id: string;
  out: { stream: 'stdout' | 'stderr'; data: Buffer }[];
  done: boolean;
  exitCode: number;
  abort: AbortController;
  wake: () => void;
}

interface ConnectionAuth {
  challenge?: ChallengeState;
  user?: string;
  security?: NtlmSessionSecurity | null;
  requests: number;
}

const S = 'http://www.w3.org/2003/05/soap-envelope';
const A = 'http://schemas.xmlsoap.org/ws/2004/08/addressing';
const W = 'http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd';
const RSP = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell';
const ENCRYPTED = 'application/HTTP-SPNEGO-session-encrypted';

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: true,
  parseTagValue: false,
  isArray: (name) => name === 'Arguments' || name === 'Selector' || name === 'Option',
});
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const txt = (n: any): string =>
  n === undefined ? '' : typeof n === 'object' ? String(n['#text'] ?? '') : String(n);

export class WsManTestServer {
  readonly commands: RanCommand[] = [];
  /** Authentications seen, by scheme: proves which one a client really used. */
  readonly authentications: { scheme: 'ntlm' | 'basic'; user: string; transport: 'http' | 'https' }[] = [];
  private readonly shells = new Map<string, Map<string, Command>>();
  private readonly conns = new WeakMap<Socket, ConnectionAuth>();
  private readonly users: Map<string, string>;
  private httpServer?: http.Server;
  private httpsServer?: https.Server;
  httpPort = 0;
  httpsPort = 0;

  constructor(private readonly opts: WsManTestServerOptions) {
    this.users = new Map(Object.entries(opts.users));
  }

  async start(): Promise<this> {
    const host = this.opts.host ?? '127.0.0.1';
    const listen = async (server: http.Server, port = 0): Promise<number> => {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, resolve);
      });
      return (server.address() as AddressInfo).port;
    };
    this.httpServer = http.createServer((req, res) => void this.handle(req, res, 'http'));
    this.httpPort = await listen(this.httpServer, this.opts.httpPort);
    if (this.opts.tls) {
      this.httpsServer = https.createServer(this.opts.tls, (req, res) => void this.handle(req, res, 'https'));
      this.httpsPort = await listen(this.httpsServer);
    }
    return this;
  }

  async stop(): Promise<void> {
    for (const shell of this.shells.values()) for (const c of shell.values()) c.abort.abort();
    for (const s of [this.httpServer, this.httpsServer]) {
      if (!s) continue;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  }

  /** Shells created and not deleted: a client that cleans up leaves none. */
  openShells(): number {
    return this.shells.size;
  }

  /** Drops every open connection, as a restarted WinRM service or a flaky network would. */
  dropConnections(): void {
    this.httpServer?.closeAllConnections();
    this.httpsServer?.closeAllConnections();
  }

  private findUser(name: string): string | undefined {
    return [...this.users.keys()].find((k) => k.toLowerCase() === name.toLowerCase());
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse, transport: 'http' | 'https') {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const socket = req.socket;
    const conn = this.conns.get(socket) ?? { requests: 0 };
    this.conns.set(socket, conn);
    conn.requests++;
    if (this.opts.closeAfterRequests && conn.requests >= this.opts.closeAfterRequests) {
      res.setHeader('Connection', 'close');
    }
    const unauthorized = (challenge?: string) => {
      const offers = challenge
        ? [`Negotiate ${challenge}`]
        : transport === 'https'
          ? ['Negotiate', 'Basic realm="WSMAN"']
          : ['Negotiate'];
      res.writeHead(401, { 'WWW-Authenticate': offers, 'Content-Length': '0' });
      res.end();
    };

    try {
      const authorization = req.headers.authorization ?? '';
      const [scheme, token] = authorization.split(' ', 2);
      if (scheme?.toLowerCase() === 'basic' && token) {
        if (transport !== 'https') return unauthorized(); // Basic is off over HTTP, as on a domain listener
        const decoded = Buffer.from(token, 'base64').toString('utf8');
        const sep = decoded.indexOf(':');
        const user = this.findUser(decoded.slice(0, sep));
        if (!user || this.users.get(user) !== decoded.slice(sep + 1)) return unauthorized();
        conn.user = user;
        conn.security = null;
        this.authentications.push({ scheme: 'basic', user, transport });
      } else if ((scheme?.toLowerCase() === 'negotiate' || scheme?.toLowerCase() === 'ntlm') && token) {
        const msg = Buffer.from(token, 'base64');
        const type = msg.length >= 12 ? msg.readUInt32LE(8) : 0;
        if (type === 1) {
          const { message, state } = challengeMessage(msg, {
            domain: this.opts.domain ?? 'DRYDOCK',
            computer: this.opts.computer ?? 'WIN-SIMULATED',
          });
          conn.challenge = state;
          conn.user = undefined;
          return unauthorized(message.toString('base64'));
        }
        if (type !== 3 || !conn.challenge) return unauthorized();
        try {
          const accepted = acceptAuthenticate(msg, conn.challenge, this.users);
          conn.user = accepted.user;
          conn.security = transport === 'http' ? accepted.security : null;
          this.authentications.push({ scheme: 'ntlm', user: accepted.user, transport });
        } catch {
          conn.challenge = undefined;
          return unauthorized();
        } finally {
          conn.challenge = undefined;
        }
        if (body.length === 0) {
          res.writeHead(200, { 'Content-Length': '0' });
          return res.end();
        }
      }
      if (!conn.user) return unauthorized();

      let soap: Buffer;
      const contentType = String(req.headers['content-type'] ?? '');
      if (contentType.includes(ENCRYPTED)) {
        if (!conn.security) return unauthorized();
        soap = decryptBody(conn.security, body);
      } else if (transport === 'http') {
        return unauthorized(); // AllowUnencrypted=false: plain SOAP over HTTP is refused
      } else {
        soap = body;
      }
      const { status, xml } = await this.dispatch(soap.toString('utf8'), conn.user, transport);
      const payload = Buffer.from(xml, 'utf8');
      if (conn.security) {
        const sealed = encryptBody(conn.security, payload);
        res.writeHead(status, {
          'Content-Type': `multipart/encrypted;protocol="${ENCRYPTED}";boundary="Encrypted Boundary"`,
          'Content-Length': String(sealed.length),
        });
        res.end(sealed);
      } else {
        res.writeHead(status, {
          'Content-Type': 'application/soap+xml;charset=UTF-8',
          'Content-Length': String(payload.length),
        });
        res.end(payload);
      }
    } catch (err) {
      res.writeHead(500, { 'Content-Length': '0' });
      res.end();
      process.stderr.write(`wsman test server: ${(err as Error).message}\n`);
    }
  }

  private respond(relatesTo: string, action: string, body: string): { status: number; xml: string } {
    return {
      status: 200,
      xml:
        `<s:Envelope xml:lang="en-US" xmlns:s="${S}" xmlns:a="${A}" xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer" xmlns:w="${W}" xmlns:rsp="${RSP}" xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd">` +
        `<s:Header><a:Action>${action}</a:Action><a:MessageID>uuid:${randomUUID().toUpperCase()}</a:MessageID>` +
        `<a:To>${A}/role/anonymous</a:To><a:RelatesTo>${esc(relatesTo)}</a:RelatesTo></s:Header>` +
        `<s:Body>${body}</s:Body></s:Envelope>`,
    };
  }

  private fault(
    relatesTo: string,
    subcode: string,
    wsmanCode: string,
    message: string,
  ): { status: number; xml: string } {
    return {
      status: 500,
      xml:
        `<s:Envelope xml:lang="en-US" xmlns:s="${S}" xmlns:a="${A}" xmlns:w="${W}">` +
        `<s:Header><a:Action>${A}/fault</a:Action><a:MessageID>uuid:${randomUUID().toUpperCase()}</a:MessageID>` +
        `<a:RelatesTo>${esc(relatesTo)}</a:RelatesTo></s:Header><s:Body><s:Fault>` +
        `<s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>${subcode}</s:Value></s:Subcode></s:Code>` +
        `<s:Reason><s:Text xml:lang="">${esc(message)}</s:Text></s:Reason>` +
        `<s:Detail><f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" Code="${wsmanCode}" Machine="${esc(this.opts.computer ?? 'WIN-SIMULATED')}">` +
        `<f:Message>${esc(message)}</f:Message></f:WSManFault></s:Detail></s:Fault></s:Body></s:Envelope>`,
    };
  }

  private async dispatch(
    xml: string,
    user: string,
    transport: 'http' | 'https',
  ): Promise<{ status: number; xml: string }> {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const env = (parser.parse(xml) as any).Envelope;
    const header = env?.Header ?? {};
    const body = env?.Body ?? {};
    const action = txt(header.Action);
    const messageId = txt(header.MessageID);
    const selectors: { '@Name': string; '#text': string }[] = header.SelectorSet?.Selector ?? [];
    const shellId = txt(selectors.find((s) => s['@Name'] === 'ShellId'));
    const shell = this.shells.get(shellId);
    const noShell = () =>
      this.fault(messageId, 'w:InvalidSelectors', '2150858843', 'The shell was not found.');

    switch (action) {
      case 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Create': {
        const id = randomUUID().toUpperCase();
        this.shells.set(id, new Map());
        return this.respond(
          messageId,
          'http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse',
          `<x:ResourceCreated><a:Address>http://127.0.0.1/wsman</a:Address><a:ReferenceParameters>` +
            `<w:ResourceURI>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI>` +
            `<w:SelectorSet><w:Selector Name="ShellId">${id}</w:Selector></w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>` +
            `<rsp:Shell><rsp:ShellId>${id}</rsp:ShellId><rsp:ResourceUri>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</rsp:ResourceUri>` +
            `<rsp:Owner>${esc(user)}</rsp:Owner><rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>`,
        );
      }
      case `${RSP}/Command`: {
        if (!shell) return noShell();
        const line = body.CommandLine ?? {};
        // cmd.exe splits the command line: pywinrm's run_ps sends "powershell -encodedcommand …" whole.
        const [command = '', ...inline] = txt(line.Command).trim().split(/\s+/);
        // pywinrm joins arguments into one element; Windows' own client sends one per argument.
        const args = [
          ...inline,
          ...((line.Arguments ?? []) as unknown[])
            .map(txt)
            .flatMap((a) => (a.includes(' ') ? a.split(/\s+/) : [a])),
        ];
        const cmd: Command = {
          id: randomUUID().toUpperCase(),
          out: [],
          done: false,
          exitCode: 0,
          abort: new AbortController(),
          wake: () => {},
        };
        shell.set(cmd.id, cmd);
        this.launch(cmd, {
          user,
          command,
          args,
          transport: transport === 'http' ? 'http-encrypted' : 'https',
        });
        return this.respond(
          messageId,
          `${RSP}/CommandResponse`,
          `<rsp:CommandResponse><rsp:CommandId>${cmd.id}</rsp:CommandId></rsp:CommandResponse>`,
        );
      }
      case `${RSP}/Receive`: {
        if (!shell) return noShell();
        const cmd = shell.get(String(body.Receive?.DesiredStream?.['@CommandId'] ?? ''));
        if (!cmd)
          return this.fault(messageId, 'w:InvalidSelectors', '2150858843', 'The command was not found.');
        if (cmd.out.length === 0 && !cmd.done) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, this.opts.receiveHoldMs ?? 1000);
            cmd.wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
        if (cmd.out.length === 0 && !cmd.done) {
          return this.fault(
            messageId,
            'w:TimedOut',
            '2150858793',
            'The WS-Management service cannot complete the operation within the time specified in OperationTimeout.',
          );
        }
        const streams = cmd.out
          .splice(0)
          .map(
            (o) =>
              `<rsp:Stream Name="${o.stream}" CommandId="${cmd.id}">${o.data.toString('base64')}</rsp:Stream>`,
          );
        const state = cmd.done
          ? `<rsp:Stream Name="stdout" CommandId="${cmd.id}" End="true"></rsp:Stream><rsp:Stream Name="stderr" CommandId="${cmd.id}" End="true"></rsp:Stream>` +
            `<rsp:CommandState CommandId="${cmd.id}" State="${RSP}/CommandState/Done"><rsp:ExitCode>${cmd.exitCode}</rsp:ExitCode></rsp:CommandState>`
          : `<rsp:CommandState CommandId="${cmd.id}" State="${RSP}/CommandState/Running"></rsp:CommandState>`;
        return this.respond(
          messageId,
          `${RSP}/ReceiveResponse`,
          `<rsp:ReceiveResponse>${streams.join('')}${state}</rsp:ReceiveResponse>`,
        );
      }
      case `${RSP}/Signal`: {
        if (!shell) return noShell();
        shell.get(String(body.Signal?.['@CommandId'] ?? ''))?.abort.abort();
        return this.respond(messageId, `${RSP}/SignalResponse`, `<rsp:SignalResponse/>`);
      }
      case 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete': {
        if (!shell) return noShell();
        for (const c of shell.values()) c.abort.abort();
        this.shells.delete(shellId);
        return this.respond(messageId, 'http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse', '');
      }
      default:
        return this.fault(
          messageId,
          'a:ActionNotSupported',
          '2150858771',
          `The action ${action} is not supported.`,
        );
    }
  }

  private launch(cmd: Command, ran: RanCommand): void {
    const io: CommandIo = {
      stdout: (t) => {
        cmd.out.push({ stream: 'stdout', data: Buffer.from(t, 'utf8') });
        cmd.wake();
      },
      stderr: (t) => {
        cmd.out.push({ stream: 'stderr', data: Buffer.from(t, 'utf8') });
        cmd.wake();
      },
      signal: cmd.abort.signal,
    };
    const encoded = ran.args.findIndex((a) => /^-(e|enc|encodedcommand)$/i.test(a));
    if (/^powershell(\.exe)?$/i.test(ran.command) && encoded >= 0) {
      ran.script = Buffer.from(ran.args[encoded + 1] ?? '', 'base64').toString('utf16le');
    }
    this.commands.push(ran);
    void this.simulate(ran, io)
      .catch((err: Error) => {
        io.stderr(`${err.message}\r\n`);
        return 1;
      })
      .then((code) => {
        cmd.exitCode = code;
        cmd.done = true;
        cmd.wake();
      });
  }

  /** The simulated host's commands. */
  private async simulate(ran: RanCommand, io: CommandIo): Promise<number> {
    const { command, args } = ran;
    const name = command.toLowerCase();
    if (ran.script !== undefined) {
      if (this.opts.powershell) return this.opts.powershell(ran.script, io, ran);
      io.stdout(`simulated PowerShell ran ${ran.script.length} characters\r\n`);
      return 0;
    }
    if (name === 'hostname') {
      io.stdout(`${this.opts.computer ?? 'WIN-SIMULATED'}\r\n`);
      return 0;
    }
    if (name === 'whoami') {
      io.stdout(`${ran.user.toLowerCase()}\r\n`);
      return 0;
    }
    if (name === 'echo') {
      io.stdout(`${args.join(' ')}\r\n`);
      return 0;
    }
    if (name === 'cmd' && args[0]?.toLowerCase() === '/c' && args[1]?.toLowerCase() === 'exit')
      return Number(args[2] ?? 0);
    if (name === 'timeout' && args[0]?.toLowerCase() === '/t') {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Number(args[1]) * 1000);
        io.signal.addEventListener('abort', () => {
          clearTimeout(t);
          resolve();
        });
      });
      io.stdout('done waiting\r\n');
      return io.signal.aborted ? 1 : 0;
    }
    io.stderr(
      `'${command}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n`,
    );
    return 9009;
  }
}
