import { createHash, createHmac, randomBytes } from 'node:crypto';
import { md4, Rc4, rc4Once } from './legacy-crypto';

/**
 * NTLMv2 with session security (signing and sealing), the initiator's side, written from MS-NLMP
 * (sections 2.2 and 3.3–3.4). It is what a Windows WinRM listener accepts on HTTP 5985 with message
 * encryption. Checked against the specification's examples (section 4.2) in
 * `test/unit/ntlm.test.ts`, and against Debian's independent `python3-ntlm-auth` through the test
 * WS-Man server. Never logs or throws anything that contains the password or a key.
 */

export const NegotiateFlag = {
  Unicode: 0x00000001,
  Oem: 0x00000002,
  RequestTarget: 0x00000004,
  Sign: 0x00000010,
  Seal: 0x00000020,
  Ntlm: 0x00000200,
  AlwaysSign: 0x00008000,
  TargetTypeDomain: 0x00010000,
  TargetTypeServer: 0x00020000,
  ExtendedSessionSecurity: 0x00080000,
  TargetInfo: 0x00800000,
  Version: 0x02000000,
  Negotiate128: 0x20000000,
  KeyExchange: 0x40000000,
  Negotiate56: 0x80000000,
} as const;

/** What we ask for: NTLMv2 with extended session security, 128-bit keys, key exchange, sign+seal. */
export const CLIENT_FLAGS =
  (NegotiateFlag.Unicode |
    NegotiateFlag.RequestTarget |
    NegotiateFlag.Sign |
    NegotiateFlag.Seal |
    NegotiateFlag.Ntlm |
    NegotiateFlag.AlwaysSign |
    NegotiateFlag.ExtendedSessionSecurity |
    NegotiateFlag.TargetInfo |
    NegotiateFlag.Version |
    NegotiateFlag.Negotiate128 |
    NegotiateFlag.KeyExchange |
    NegotiateFlag.Negotiate56) >>>
  0;

/** AV pair ids (MS-NLMP 2.2.2.1). */
export const AvId = {
  Eol: 0,
  NbComputerName: 1,
  NbDomainName: 2,
  DnsComputerName: 3,
  DnsDomainName: 4,
  DnsTreeName: 5,
  Flags: 6,
  Timestamp: 7,
  TargetName: 9,
  ChannelBindings: 10,
} as const;

const SIGNATURE = Buffer.from('NTLMSSP\0', 'latin1');
/** The version field we send: Windows 10 (10.0.19041), NTLM revision 15. Informational only. */
const VERSION = Buffer.from([10, 0, 0x61, 0x4a, 0, 0, 0, 15]);

export class NtlmError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NtlmError';
  }
}

const utf16 = (s: string): Buffer => Buffer.from(s, 'utf16le');
export const hmacMd5 = (key: Buffer, ...data: Buffer[]): Buffer => {
  const h = createHmac('md5', key);
  for (const d of data) h.update(d);
  return h.digest();
};
const md5 = (...data: Buffer[]): Buffer => {
  const h = createHash('md5');
  for (const d of data) h.update(d);
  return h.digest();
};

/** NTOWFv1: MD4 of the UTF-16LE password (the "NT hash"). */
export const ntowfv1 = (password: string): Buffer => md4(utf16(password));

/** NTOWFv2 (= LMOWFv2): HMAC-MD5 keyed by the NT hash over UPPER(user) + domain, in UTF-16LE. */
export const ntowfv2 = (password: string, user: string, domain: string): Buffer =>
  hmacMd5(ntowfv1(password), utf16(user.toUpperCase() + domain));

export interface AvPair {
  id: number;
  value: Buffer;
}

export function parseAvPairs(buf: Buffer): AvPair[] {
  const pairs: AvPair[] = [];
  let at = 0;
  while (at + 4 <= buf.length) {
    const id = buf.readUInt16LE(at);
    const len = buf.readUInt16LE(at + 2);
    if (id === AvId.Eol) return pairs;
    if (at + 4 + len > buf.length) throw new NtlmError('NTLM target info is truncated');
    pairs.push({ id, value: buf.subarray(at + 4, at + 4 + len) });
    at += 4 + len;
  }
  throw new NtlmError('NTLM target info has no end marker');
}

export function encodeAvPairs(pairs: AvPair[]): Buffer {
  const parts: Buffer[] = [];
  for (const { id, value } of pairs) {
    const head = Buffer.alloc(4);
    head.writeUInt16LE(id, 0);
    head.writeUInt16LE(value.length, 2);
    parts.push(head, value);
  }
  parts.push(Buffer.alloc(4)); // MsvAvEOL
  return Buffer.concat(parts);
}

function readField(msg: Buffer, at: number): Buffer {
  const len = msg.readUInt16LE(at);
  const offset = msg.readUInt32LE(at + 4);
  if (offset + len > msg.length) throw new NtlmError('NTLM message field lies outside the message');
  return msg.subarray(offset, offset + len);
}

function checkHeader(msg: Buffer, type: number): void {
  if (msg.length < 12 || !msg.subarray(0, 8).equals(SIGNATURE) || msg.readUInt32LE(8) !== type) {
    throw new NtlmError(`not an NTLM type ${type} message`);
  }
}

/** NEGOTIATE_MESSAGE (2.2.1.1) with no domain or workstation supplied. */
export function negotiateMessage(flags = CLIENT_FLAGS): Buffer {
  const msg = Buffer.alloc(40);
  SIGNATURE.copy(msg, 0);
  msg.writeUInt32LE(1, 8);
  msg.writeUInt32LE(flags >>> 0, 12);
  // Domain and workstation fields stay empty, pointing at the end of the header.
  msg.writeUInt32LE(40, 20);
  msg.writeUInt32LE(40, 28);
  VERSION.copy(msg, 32);
  return msg;
}

export interface ChallengeMessage {
  flags: number;
  serverChallenge: Buffer;
  targetName: string;
  targetInfo: Buffer;
  avPairs: AvPair[];
}

/** CHALLENGE_MESSAGE (2.2.1.2). */
export function parseChallengeMessage(msg: Buffer): ChallengeMessage {
  checkHeader(msg, 2);
  if (msg.length < 48) throw new NtlmError('NTLM challenge is too short');
  const flags = msg.readUInt32LE(20);
  const targetInfo = readField(msg, 40);
  return {
    flags,
    serverChallenge: Buffer.from(msg.subarray(24, 32)),
    targetName: readField(msg, 12).toString(flags & NegotiateFlag.Unicode ? 'utf16le' : 'latin1'),
    targetInfo: Buffer.from(targetInfo),
    avPairs: parseAvPairs(targetInfo),
  };
}

export interface NtlmCredentials {
  user: string;
  domain: string;
  password: string;
}

export interface AuthenticateOptions {
  negotiate: Buffer;
  challenge: Buffer;
  credentials: NtlmCredentials;
  workstation?: string;
  /**
   * MD5 over the gss_channel_bindings_struct for TLS ("tls-server-end-point"), sent as
   * MsvAvChannelBindings so an HTTPS listener with channel-binding hardening accepts us.
   */
  channelBindingsHash?: Buffer;
  /** Fixed values for the specification's examples; random and "now" otherwise. */
  clientChallenge?: Buffer;
  exportedSessionKey?: Buffer;
  timestamp?: Buffer;
}

export interface AuthenticateResult {
  message: Buffer;
  /** The session security for the connection this handshake ran on (client side). */
  security: NtlmSessionSecurity;
  /** Exposed for the specification's tests; never logged. */
  keys: { sessionBaseKey: Buffer; exportedSessionKey: Buffer; encryptedRandomSessionKey: Buffer };
  lmChallengeResponse: Buffer;
  ntChallengeResponse: Buffer;
}

/** FILETIME now: 100 ns intervals since 1601-01-01, little-endian 64-bit. */
export function fileTimeNow(): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE((BigInt(Date.now()) + 11_644_473_600_000n) * 10_000n);
  return out;
}

/**
 * NTLMv2 responses (3.3.2): NTProofStr = HMAC_MD5(NTOWFv2, ServerChallenge + temp), where temp
 * carries the client challenge, the time and the server's target info (with our additions).
 */
export function ntlmV2Response(
  responseKey: Buffer,
  serverChallenge: Buffer,
  clientChallenge: Buffer,
  timestamp: Buffer,
  targetInfo: Buffer,
): { ntProofStr: Buffer; ntChallengeResponse: Buffer; sessionBaseKey: Buffer } {
  const temp = Buffer.concat([
    Buffer.from([1, 1]),
    Buffer.alloc(6),
    timestamp,
    clientChallenge,
    Buffer.alloc(4),
    targetInfo,
    Buffer.alloc(4),
  ]);
  const ntProofStr = hmacMd5(responseKey, serverChallenge, temp);
  return {
    ntProofStr,
    ntChallengeResponse: Buffer.concat([ntProofStr, temp]),
    sessionBaseKey: hmacMd5(responseKey, ntProofStr),
  };
}

/** AUTHENTICATE_MESSAGE (2.2.1.3) for NTLMv2 with key exchange, and the session security it sets up. */
export function authenticateMessage(opts: AuthenticateOptions): AuthenticateResult {
  const challenge = parseChallengeMessage(opts.challenge);
  const flags = (CLIENT_FLAGS & challenge.flags) >>> 0;
  if (!(flags & NegotiateFlag.ExtendedSessionSecurity) || !(flags & NegotiateFlag.Negotiate128)) {
    throw new NtlmError('the server does not offer NTLMv2 with 128-bit session security');
  }
  const { user, domain, password } = opts.credentials;
  const responseKey = ntowfv2(password, user, domain);
  const clientChallenge = opts.clientChallenge ?? randomBytes(8);
  const serverTimestamp = challenge.avPairs.find((p) => p.id === AvId.Timestamp)?.value;
  const timestamp = opts.timestamp ?? serverTimestamp ?? fileTimeNow();

  // With the server's timestamp present we add a MIC (and say so in MsvAvFlags), as Windows does.
  const withMic = serverTimestamp !== undefined;
  const pairs = challenge.avPairs.filter((p) => p.id !== AvId.Flags);
  if (withMic) {
    const f = Buffer.alloc(4);
    f.writeUInt32LE(0x2);
    pairs.push({ id: AvId.Flags, value: f });
  }
  if (opts.channelBindingsHash) pairs.push({ id: AvId.ChannelBindings, value: opts.channelBindingsHash });
  const targetInfo = withMic || opts.channelBindingsHash ? encodeAvPairs(pairs) : challenge.targetInfo;

  const { ntChallengeResponse, sessionBaseKey } = ntlmV2Response(
    responseKey,
    challenge.serverChallenge,
    clientChallenge,
    timestamp,
    targetInfo,
  );
  // With a timestamp the LMv2 response is all zeros (3.1.5.1.2).
  const lmChallengeResponse = withMic
    ? Buffer.alloc(24)
    : Buffer.concat([hmacMd5(responseKey, challenge.serverChallenge, clientChallenge), clientChallenge]);

  // NTLMv2: KeyExchangeKey is the SessionBaseKey; with KEY_EXCH a random key is sent under RC4,
  // without it the KeyExchangeKey itself is the session key and nothing is sent (3.1.5.1.2).
  const keyExchange = (flags & NegotiateFlag.KeyExchange) !== 0;
  const exportedSessionKey = keyExchange ? (opts.exportedSessionKey ?? randomBytes(16)) : sessionBaseKey;
  const encryptedRandomSessionKey = keyExchange
    ? rc4Once(sessionBaseKey, exportedSessionKey)
    : Buffer.alloc(0);

  const payload = [
    lmChallengeResponse,
    ntChallengeResponse,
    utf16(domain),
    utf16(user),
    utf16(opts.workstation ?? ''),
    encryptedRandomSessionKey,
  ];
  const headerLength = 88;
  const message = Buffer.alloc(headerLength + payload.reduce((n, p) => n + p.length, 0));
  SIGNATURE.copy(message, 0);
  message.writeUInt32LE(3, 8);
  let offset = headerLength;
  payload.forEach((part, i) => {
    const at = 12 + i * 8;
    message.writeUInt16LE(part.length, at);
    message.writeUInt16LE(part.length, at + 2);
    message.writeUInt32LE(offset, at + 4);
    part.copy(message, offset);
    offset += part.length;
  });
  message.writeUInt32LE(flags, 60);
  VERSION.copy(message, 64);
  if (withMic) {
    hmacMd5(exportedSessionKey, opts.negotiate, opts.challenge, message).copy(message, 72);
  }
  return {
    message,
    security: new NtlmSessionSecurity(exportedSessionKey, flags, 'client'),
    keys: { sessionBaseKey, exportedSessionKey, encryptedRandomSessionKey },
    lmChallengeResponse,
    ntChallengeResponse,
  };
}

/** MD5 of the channel bindings for TLS: "tls-server-end-point:" + the certificate's hash (RFC 5929). */
export function tlsChannelBindingsHash(certificateHash: Buffer): Buffer {
  const appData = Buffer.concat([Buffer.from('tls-server-end-point:', 'latin1'), certificateHash]);
  const head = Buffer.alloc(20); // initiator/acceptor address types and lengths: all zero
  head.writeUInt32LE(appData.length, 16);
  return md5(head, appData);
}

const magic = (s: string): Buffer => Buffer.from(`session key to ${s} magic constant\0`, 'latin1');

/**
 * Signing and sealing with extended session security (3.4.4.2, 3.4.3): one RC4 handle per
 * direction for the whole connection, a sequence number per direction, an 8-byte HMAC-MD5 checksum
 * itself encrypted under the sealing handle because key exchange was negotiated.
 */
export class NtlmSessionSecurity {
  private readonly signKey: Buffer;
  private readonly verifyKey: Buffer;
  private readonly sealHandle: Rc4;
  private readonly unsealHandle: Rc4;
  private sendSeq = 0;
  private receiveSeq = 0;

  constructor(
    exportedSessionKey: Buffer,
    private readonly flags: number,
    role: 'client' | 'server',
  ) {
    const out = role === 'client' ? 'client-to-server' : 'server-to-client';
    const inbound = role === 'client' ? 'server-to-client' : 'client-to-server';
    this.signKey = md5(exportedSessionKey, magic(`${out} signing key`));
    this.verifyKey = md5(exportedSessionKey, magic(`${inbound} signing key`));
    this.sealHandle = new Rc4(md5(exportedSessionKey, magic(`${out} sealing key`)));
    this.unsealHandle = new Rc4(md5(exportedSessionKey, magic(`${inbound} sealing key`)));
  }

  private signature(key: Buffer, handle: Rc4, seq: number, message: Buffer): Buffer {
    const seqBuf = Buffer.alloc(4);
    seqBuf.writeUInt32LE(seq);
    let checksum = hmacMd5(key, seqBuf, message).subarray(0, 8);
    if (this.flags & NegotiateFlag.KeyExchange) checksum = handle.update(checksum);
    return Buffer.concat([Buffer.from([1, 0, 0, 0]), checksum, seqBuf]);
  }

  /** GSS_WrapEx: seal `message`, sign the plaintext. Returns the 16-byte signature and the sealed bytes. */
  wrap(message: Buffer): { signature: Buffer; sealed: Buffer } {
    const sealed = this.sealHandle.update(message);
    const signature = this.signature(this.signKey, this.sealHandle, this.sendSeq++, message);
    return { signature, sealed };
  }

  /** GSS_UnwrapEx: unseal, then check the signature and the sequence number; refuse on mismatch. */
  unwrap(sealed: Buffer, signature: Buffer): Buffer {
    const message = this.unsealHandle.update(sealed);
    const expected = this.signature(this.verifyKey, this.unsealHandle, this.receiveSeq++, message);
    if (signature.length !== 16 || !expected.equals(signature)) {
      throw new NtlmError('NTLM message signature does not verify (tampered, or out of sequence)');
    }
    return message;
  }
}
