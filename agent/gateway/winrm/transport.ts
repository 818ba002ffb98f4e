import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import tls, { type PeerCertificate, type TLSSocket } from 'node:tls';
import {
  authenticateMessage,
  negotiateMessage,
  NtlmError,
  type NtlmSessionSecurity,
  tlsChannelBindingsHash,
} from './ntlm';

/**
 * HTTP for WS-Management: NTLM with message encryption over HTTP (5985, what a default domain
 * listener accepts: AllowUnencrypted=false), NTLM or Basic over HTTPS (5986). NTLM authenticates a
 * TCP connection, so the transport keeps exactly one keep-alive connection and authenticates again
 * when the peer closed it. Nothing it throws or logs carries the password.
 */

export type WinRmAuth =
  | { kind: 'ntlm'; user: string; domain: string; password: string }
  | { kind: 'basic'; user: string; password: string };

export interface WinRmTls {
  /** PEM of the CA (or the listener's self-signed certificate) to trust instead of the system store. */
  ca?: string;
  /** SHA-256 of the listener's certificate (hex, colons allowed): accept only that certificate. */
  pinSha256?: string;
}

export interface WinRmEndpoint {
  host: string;
  port?: number;
  https: boolean;
  auth: WinRmAuth;
  tls?: WinRmTls;
}

/** How a WinRM exchange failed, in words an operator can act on (the deployment's failure kinds). */
export type WinRmFailureKind = 'auth' | 'network' | 'tls' | 'timeout' | 'protocol';

export class WinRmError extends Error {
  constructor(
    readonly kind: WinRmFailureKind,
    message: string,
  ) {
    super(message);
    this.name = 'WinRmError';
  }
}

const TLS_CODES =
  /^(CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_|ERR_TLS_|ERR_SSL_|ERR_OSSL_)|HOSTNAME_MISMATCH|PIN_MISMATCH/;
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ECONNABORTED',
]);

/** Sorts a socket or TLS error into a failure kind; the message names the peer, never a secret. */
export function classifyError(err: unknown, peer: string): WinRmError {
  if (err instanceof WinRmError) return err;
  const e = err as NodeJS.ErrnoException & { reason?: string };
  const code = e?.code ?? '';
  if (TLS_CODES.test(code) || /certificate|TLS|SSL/i.test(e?.message ?? '')) {
    return new WinRmError('tls', `TLS to ${peer} failed: ${code || e.message}`);
  }
  if (code === 'ETIMEDOUT') return new WinRmError('timeout', `${peer} did not answer in time`);
  if (NETWORK_CODES.has(code)) return new WinRmError('network', `${peer} is unreachable: ${code}`);
  if (err instanceof NtlmError) return new WinRmError('auth', `NTLM with ${peer}: ${err.message}`);
  return new WinRmError('protocol', `WinRM with ${peer}: ${e?.message ?? String(err)}`);
}

const BOUNDARY = 'Encrypted Boundary';
const ENCRYPTED_PROTOCOL = 'application/HTTP-SPNEGO-session-encrypted';
const ENCRYPTED_TYPE = `multipart/encrypted;protocol="${ENCRYPTED_PROTOCOL}";boundary="${BOUNDARY}"`;

/** MS-WSMV 2.2.9.1.1: one SOAP message sealed with NTLM, in the multipart framing Windows uses. */
export function encryptBody(security: NtlmSessionSecurity, message: Buffer): Buffer {
  const { signature, sealed } = security.wrap(message);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(signature.length);
  return Buffer.concat([
    Buffer.from(
      `--${BOUNDARY}\r\n\tContent-Type: ${ENCRYPTED_PROTOCOL}\r\n` +
        `\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=${message.length}\r\n` +
        `--${BOUNDARY}\r\n\tContent-Type: application/octet-stream\r\n`,
      'latin1',
    ),
    len,
    signature,
    sealed,
    Buffer.from(`--${BOUNDARY}--\r\n`, 'latin1'),
  ]);
}

/** The inverse of `encryptBody`; the declared length bounds the sealed bytes, the signature is checked. */
export function decryptBody(security: NtlmSessionSecurity, body: Buffer): Buffer {
  const head = body.toString('latin1');
  const length = /Length=(\d+)/.exec(head);
  const marker = '\tContent-Type: application/octet-stream\r\n';
  const at = head.indexOf(marker);
  if (!length || at < 0) throw new WinRmError('protocol', 'encrypted WinRM body is malformed');
  let offset = at + marker.length;
  const sigLen = body.readUInt32LE(offset);
  offset += 4;
  const signature = body.subarray(offset, offset + sigLen);
  offset += sigLen;
  const sealed = body.subarray(offset, offset + Number(length[1]));
  if (sigLen !== 16 || sealed.length !== Number(length[1])) {
    throw new WinRmError('protocol', 'encrypted WinRM body is truncated');
  }
  try {
    return security.unwrap(sealed, signature);
  } catch (err) {
    throw classifyError(err, 'the listener');
  }
}

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  socket: Socket;
}

class StaleConnection extends Error {}

const normalizePin = (pin: string): string => pin.replace(/:/g, '').toLowerCase();

export class WinRmTransport {
  readonly url: string;
  private readonly agent: http.Agent;
  private security: NtlmSessionSecurity | null = null;
  private authedSocket: Socket | null = null;

  constructor(private readonly endpoint: WinRmEndpoint) {
    const port = endpoint.port ?? (endpoint.https ? 5986 : 5985);
    this.url = `${endpoint.https ? 'https' : 'http'}://${endpoint.host}:${port}/wsman`;
    if (endpoint.auth.kind === 'basic' && !endpoint.https) {
      // Basic over HTTP would put the password on the wire: Windows refuses it too.
      throw new WinRmError('auth', 'Basic authentication is only allowed over HTTPS');
    }
    const pin = endpoint.tls?.pinSha256 ? normalizePin(endpoint.tls.pinSha256) : null;
    this.agent = endpoint.https
      ? new https.Agent({
          keepAlive: true,
          maxSockets: 1,
          ca: endpoint.tls?.ca,
          // A pin replaces the host name check (the certificate is known exactly); the chain must
          // still verify against `ca`, which for a self-signed listener is the certificate itself.
          checkServerIdentity: (host: string, cert: PeerCertificate) => {
            if (pin) {
              const actual = createHash('sha256').update(cert.raw).digest('hex');
              if (actual === pin) return undefined;
              const err = new Error(`certificate of ${host} does not match the pinned SHA-256`);
              (err as NodeJS.ErrnoException).code = 'PIN_MISMATCH';
              return err;
            }
            return tls.checkServerIdentity(host, cert);
          },
        })
      : new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  close(): void {
    this.agent.destroy();
    this.security = null;
    this.authedSocket = null;
  }

  private request(headers: Record<string, string>, body: Buffer, timeoutMs: number): Promise<RawResponse> {
    const peer = `${this.endpoint.host}:${this.endpoint.port ?? (this.endpoint.https ? 5986 : 5985)}`;
    return new Promise<RawResponse>((resolve, reject) => {
      const req = (this.endpoint.https ? https : http).request(this.url, {
        method: 'POST',
        agent: this.agent,
        headers: { 'Content-Length': String(body.length), 'User-Agent': 'Drydock WinRM client', ...headers },
      });
      let socket: Socket | null = null;
      req.on('socket', (s) => (socket = s));
      const timer = setTimeout(() => {
        req.destroy(
          new WinRmError('timeout', `${peer} did not answer within ${Math.round(timeoutMs / 1000)} s`),
        );
      }, timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        // A kept-alive connection the listener had closed: not a failure of the peer, try a new one.
        if (req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE'))
          reject(new StaleConnection());
        else reject(classifyError(err, peer));
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => {
          clearTimeout(timer);
          reject(classifyError(err, peer));
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
            socket: socket!,
          });
        });
      });
      req.end(body);
    });
  }

  private async ntlmHandshake(timeoutMs: number): Promise<void> {
    if (this.endpoint.auth.kind !== 'ntlm') return;
    const negotiate = negotiateMessage();
    const first = await this.request(
      { Authorization: `Negotiate ${negotiate.toString('base64')}` },
      Buffer.alloc(0),
      timeoutMs,
    );
    const offered = [first.headers['www-authenticate'] ?? []].flat().join(', ');
    const challengeB64 = /(?:Negotiate|NTLM) ([A-Za-z0-9+/=]+)/.exec(offered)?.[1];
    if (first.status !== 401 || !challengeB64) {
      throw new WinRmError(
        'auth',
        `the listener did not offer NTLM (HTTP ${first.status}; offered: ${offered || 'nothing'})`,
      );
    }
    let channelBindingsHash: Buffer | undefined;
    if (this.endpoint.https) {
      const cert = (first.socket as TLSSocket).getPeerCertificate?.(false);
      // RFC 5929 tls-server-end-point with SHA-256 (the hash for SHA-1/MD5/SHA-256-signed certificates).
      if (cert?.raw)
        channelBindingsHash = tlsChannelBindingsHash(createHash('sha256').update(cert.raw).digest());
    }
    const { user, domain, password } = this.endpoint.auth;
    const auth = authenticateMessage({
      negotiate,
      challenge: Buffer.from(challengeB64, 'base64'),
      credentials: { user, domain, password },
      channelBindingsHash,
    });
    const second = await this.request(
      { Authorization: `Negotiate ${auth.message.toString('base64')}` },
      Buffer.alloc(0),
      timeoutMs,
    );
    if (second.status === 401) {
      throw new WinRmError('auth', `the listener refused the credentials of ${domain}\\${user}`);
    }
    if (second.socket !== first.socket) {
      throw new WinRmError('protocol', 'the listener closed the connection during NTLM authentication');
    }
    this.security = this.endpoint.https ? null : auth.security;
    this.authedSocket = second.socket;
  }

  /** POSTs one SOAP envelope and returns the answer's XML and HTTP status (500 carries a fault). */
  async post(xml: string, timeoutMs: number): Promise<{ status: number; xml: string }> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.postOnce(xml, timeoutMs, attempt);
      } catch (err) {
        if (!(err instanceof StaleConnection) || attempt > 1) {
          throw err instanceof StaleConnection
            ? new WinRmError('network', 'the listener keeps closing the connection')
            : err;
        }
        // An authenticated connection is gone with its NTLM context: authenticate a new one.
        this.security = null;
        this.authedSocket = null;
      }
    }
  }

  private async postOnce(
    xml: string,
    timeoutMs: number,
    attempt: number,
  ): Promise<{ status: number; xml: string }> {
    const auth = this.endpoint.auth;
    if (auth.kind === 'ntlm' && !this.authedSocket) await this.ntlmHandshake(timeoutMs);
    const message = Buffer.from(xml, 'utf8');
    let res: RawResponse;
    if (auth.kind === 'basic') {
      const basic = Buffer.from(`${auth.user}:${auth.password}`, 'utf8').toString('base64');
      res = await this.request(
        { Authorization: `Basic ${basic}`, 'Content-Type': 'application/soap+xml;charset=UTF-8' },
        message,
        timeoutMs,
      );
    } else if (this.security) {
      res = await this.request(
        { 'Content-Type': ENCRYPTED_TYPE },
        encryptBody(this.security, message),
        timeoutMs,
      );
    } else {
      res = await this.request({ 'Content-Type': 'application/soap+xml;charset=UTF-8' }, message, timeoutMs);
    }
    if (res.status === 401) {
      // The authenticated connection went away (or never was): authenticate a new one, once.
      this.security = null;
      this.authedSocket = null;
      if (auth.kind === 'ntlm' && attempt === 0) throw new StaleConnection();
      throw new WinRmError('auth', `the listener refused the credentials (HTTP 401)`);
    }
    if (auth.kind === 'ntlm' && res.socket !== this.authedSocket) {
      this.security = null;
      this.authedSocket = null;
      throw new StaleConnection();
    }
    const type = String(res.headers['content-type'] ?? '');
    if (this.security && !type.includes(ENCRYPTED_PROTOCOL) && res.body.length > 0) {
      throw new WinRmError('protocol', `the listener answered unencrypted (HTTP ${res.status})`);
    }
    const body =
      this.security && type.includes(ENCRYPTED_PROTOCOL) ? decryptBody(this.security, res.body) : res.body;
    return { status: res.status, xml: body.toString('utf8') };
  }
}
