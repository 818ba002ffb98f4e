import { randomBytes, timingSafeEqual } from 'node:crypto';
import { rc4Once } from '../../agent/gateway/winrm/legacy-crypto';
import {
  AvId,
  encodeAvPairs,
  fileTimeNow,
  hmacMd5,
  NegotiateFlag,
  NtlmError,
  NtlmSessionSecurity,
  ntowfv2,
  parseAvPairs,
} from '../../agent/gateway/winrm/ntlm';

/**
 * The acceptor's (server's) half of NTLMv2, for the test WS-Man server: a CHALLENGE_MESSAGE shaped
 * like a Windows domain member's (target info with NetBIOS and DNS names and a timestamp, so clients
 * send a MIC), and the checks a DC would make of the AUTHENTICATE_MESSAGE (MS-NLMP 3.2.5.1.2).
 */

const SIGNATURE = Buffer.from('NTLMSSP\0', 'latin1');
const SERVER_FLAGS =
  (NegotiateFlag.Unicode |
    NegotiateFlag.RequestTarget |
    NegotiateFlag.Sign |
    NegotiateFlag.Seal |
    NegotiateFlag.Ntlm |
    NegotiateFlag.AlwaysSign |
    NegotiateFlag.TargetTypeDomain |
    NegotiateFlag.ExtendedSessionSecurity |
    NegotiateFlag.TargetInfo |
    NegotiateFlag.Version |
    NegotiateFlag.Negotiate128 |
    NegotiateFlag.KeyExchange |
    NegotiateFlag.Negotiate56) >>>
  0;

export interface ChallengeState {
  negotiate: Buffer;
  challenge: Buffer;
  serverChallenge: Buffer;
  flags: number;
}

export function challengeMessage(
  negotiate: Buffer,
  names: { domain: string; computer: string; dnsDomain?: string },
): { message: Buffer; state: ChallengeState } {
  if (!negotiate.subarray(0, 8).equals(SIGNATURE) || negotiate.readUInt32LE(8) !== 1) {
    throw new NtlmError('not an NTLM negotiate message');
  }
  // Unicode and the target-type/info flags are ours to set; the rest is what both sides offer.
  const offered = negotiate.readUInt32LE(12);
  const flags =
    ((SERVER_FLAGS & offered) |
      NegotiateFlag.Unicode |
      NegotiateFlag.TargetTypeDomain |
      NegotiateFlag.TargetInfo |
      NegotiateFlag.Version) >>>
    0;
  const dnsDomain = names.dnsDomain ?? `${names.domain.toLowerCase()}.test`;
  const u = (s: string): Buffer => Buffer.from(s, 'utf16le');
  const targetName = u(names.domain);
  const targetInfo = encodeAvPairs([
    { id: AvId.NbDomainName, value: u(names.domain) },
    { id: AvId.NbComputerName, value: u(names.computer) },
    { id: AvId.DnsDomainName, value: u(dnsDomain) },
    { id: AvId.DnsComputerName, value: u(`${names.computer.toLowerCase()}.${dnsDomain}`) },
    { id: AvId.DnsTreeName, value: u(dnsDomain) },
    { id: AvId.Timestamp, value: fileTimeNow() },
  ]);
  const serverChallenge = randomBytes(8);
  const message = Buffer.alloc(56 + targetName.length + targetInfo.length);
  SIGNATURE.copy(message, 0);
  message.writeUInt32LE(2, 8);
  message.writeUInt16LE(targetName.length, 12);
  message.writeUInt16LE(targetName.length, 14);
  message.writeUInt32LE(56, 16);
  message.writeUInt32LE(flags, 20);
  serverChallenge.copy(message, 24);
  message.writeUInt16LE(targetInfo.length, 40);
  message.writeUInt16LE(targetInfo.length, 42);
  message.writeUInt32LE(56 + targetName.length, 44);
  Buffer.from([10, 0, 0x7c, 0x4f, 0, 0, 0, 15]).copy(message, 48);
  targetName.copy(message, 56);
  targetInfo.copy(message, 56 + targetName.length);
  return { message, state: { negotiate, challenge: message, serverChallenge, flags } };
}

function field(msg: Buffer, at: number): Buffer {
  const len = msg.readUInt16LE(at);
  const offset = msg.readUInt32LE(at + 4);
  if (offset + len > msg.length) throw new NtlmError('NTLM field outside the message');
  return msg.subarray(offset, offset + len);
}

/** Verifies an AUTHENTICATE_MESSAGE against `users` ("DOMAIN\user" → password, case-insensitive). */
export function acceptAuthenticate(
  msg: Buffer,
  state: ChallengeState,
  users: ReadonlyMap<string, string>,
): { user: string; security: NtlmSessionSecurity } {
  if (msg.length < 88 || !msg.subarray(0, 8).equals(SIGNATURE) || msg.readUInt32LE(8) !== 3) {
    throw new NtlmError('not an NTLM authenticate message');
  }
  const nt = field(msg, 20);
  const domain = field(msg, 28).toString('utf16le');
  const user = field(msg, 36).toString('utf16le');
  const encryptedKey = field(msg, 52);
  const flags = msg.readUInt32LE(60);
  const account = [...users.keys()].find((k) => k.toLowerCase() === `${domain}\\${user}`.toLowerCase());
  if (nt.length < 48 || account === undefined)
    throw new NtlmError('logon failure: unknown user or bad password');

  const responseKey = ntowfv2(users.get(account)!, user, domain);
  const ntProofStr = nt.subarray(0, 16);
  const temp = nt.subarray(16);
  const expected = hmacMd5(responseKey, state.serverChallenge, temp);
  if (!timingSafeEqual(expected, ntProofStr))
    throw new NtlmError('logon failure: unknown user or bad password');

  const sessionBaseKey = hmacMd5(responseKey, ntProofStr);
  const exported =
    flags & NegotiateFlag.KeyExchange && encryptedKey.length === 16
      ? rc4Once(sessionBaseKey, encryptedKey)
      : sessionBaseKey;

  const pairs = parseAvPairs(temp.subarray(28));
  const avFlags = pairs.find((p) => p.id === AvId.Flags)?.value.readUInt32LE(0) ?? 0;
  if (avFlags & 0x2) {
    const zeroed = Buffer.from(msg);
    zeroed.fill(0, 72, 88);
    const mic = hmacMd5(exported, state.negotiate, state.challenge, zeroed);
    if (!timingSafeEqual(mic, msg.subarray(72, 88))) throw new NtlmError('NTLM MIC does not verify');
  }
  return { user: account, security: new NtlmSessionSecurity(exported, flags, 'server') };
}
