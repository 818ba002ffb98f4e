import { md4, Rc4, rc4Once } from '../../agent/gateway/winrm/legacy-crypto';
import {
  authenticateMessage,
  AvId,
  CLIENT_FLAGS,
  NegotiateFlag,
  negotiateMessage,
  NtlmSessionSecurity,
  ntowfv1,
  ntowfv2,
  parseChallengeMessage,
} from '../../agent/gateway/winrm/ntlm';
import { acceptAuthenticate, challengeMessage } from '../helpers/ntlm-acceptor';

const hex = (b: Buffer): string => b.toString('hex');
const h = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('MD4 (RFC 1320, appendix A.5 test suite)', () => {
  it.each([
    ['', '31d6cfe0d16ae931b73c59d7e0c089c0'],
    ['a', 'bde52cb31de33e46245e05fbdbd6fb24'],
    ['abc', 'a448017aaf21d8525fc10ae87aa6729d'],
    ['message digest', 'd9130a8164549fe818874806e1c7014b'],
    ['abcdefghijklmnopqrstuvwxyz', 'd79e1c308aa5bbcdeea8ed63df412da9'],
    ['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', '043f8582f241db351ce627e153e7f0e4'],
    ['1234567890'.repeat(8), 'e33b4ddc9c38f2199c3e7b164fcc0536'],
  ])('MD4(%j)', (input, digest) => {
    expect(hex(md4(Buffer.from(input, 'latin1')))).toBe(digest);
  });
});

describe('RC4', () => {
  it('matches the classic "Key"/"Plaintext" vector and keeps its stream across calls', () => {
    expect(hex(rc4Once(Buffer.from('Key'), Buffer.from('Plaintext')))).toBe('bbf316e8d940af0ad3');
    const stream = new Rc4(Buffer.from('Key'));
    const joined = Buffer.concat([stream.update(Buffer.from('Plain')), stream.update(Buffer.from('text'))]);
    expect(hex(joined)).toBe('bbf316e8d940af0ad3');
  });
});

/** MS-NLMP 4.2.1 common values and 4.2.4 (NTLMv2 authentication). */
const user = 'User';
const domain = 'Domain';
const password = 'Password';
const clientChallenge = Buffer.alloc(8, 0xaa);
const randomSessionKey = Buffer.alloc(16, 0x55);
const time = Buffer.alloc(8);
// 4.2.4.3: the CHALLENGE_MESSAGE of the example (flags e28a8233, server challenge 0123456789abcdef,
// target name "Server", target info NbDomainName "Domain", NbComputerName "Server").
const challenge =
  h(`4e544c4d53535000020000000c000c003800000033828ae20123456789abcdef00000000000000002400240044000000
  060070170000000f53006500720076006500720002000c0044006f006d00610069006e0001000c0053006500720076006500720000000000`);

describe('NTLMv2 against MS-NLMP section 4.2', () => {
  it('NTOWFv1 (4.2.2.1.2) and NTOWFv2 (4.2.4.1.1)', () => {
    expect(hex(ntowfv1(password))).toBe('a4f49c406510bdcab6824ee7c30fd852');
    expect(hex(ntowfv2(password, user, domain))).toBe('0c868a403bfd7a93a3001ef22ef02e3f');
    // The user name is upper-cased, the domain is not.
    expect(ntowfv2(password, 'USER', domain)).toEqual(ntowfv2(password, user, domain));
    expect(ntowfv2(password, user, 'DOMAIN')).not.toEqual(ntowfv2(password, user, domain));
  });

  it('parses the example CHALLENGE_MESSAGE (4.2.4.3)', () => {
    const parsed = parseChallengeMessage(challenge);
    expect(parsed.flags).toBe(0xe28a8233);
    expect(hex(parsed.serverChallenge)).toBe('0123456789abcdef');
    expect(parsed.targetName).toBe('Server');
    expect(parsed.avPairs.map((p) => [p.id, p.value.toString('utf16le')])).toEqual([
      [AvId.NbDomainName, 'Domain'],
      [AvId.NbComputerName, 'Server'],
    ]);
  });

  it('computes the LMv2 and NTLMv2 responses, session base key and encrypted session key (4.2.4.2)', () => {
    const result = authenticateMessage({
      negotiate: negotiateMessage(),
      challenge,
      credentials: { user, domain, password },
      clientChallenge,
      exportedSessionKey: randomSessionKey,
      timestamp: time,
    });
    expect(hex(result.lmChallengeResponse)).toBe('86c35097ac9cec102554764a57cccc19' + 'aa'.repeat(8));
    expect(hex(result.ntChallengeResponse.subarray(0, 16))).toBe('68cd0ab851e51c96aabc927bebef6a1c');
    // 4.2.4.1.3: temp = 0101 0000 0000 0000 | time | client challenge | 0000 0000 | target info | 0000 0000
    expect(hex(result.ntChallengeResponse.subarray(16))).toBe(
      '0101000000000000' +
        '0000000000000000' +
        'aa'.repeat(8) +
        '00000000' +
        '02000c0044006f006d00610069006e0001000c0053006500720076006500720000000000' +
        '00000000',
    );
    expect(hex(result.keys.sessionBaseKey)).toBe('8de40ccadbc14a82f15cb0ad0de95ca3');
    expect(hex(result.keys.encryptedRandomSessionKey)).toBe('c5dad2544fc9799094ce1ce90bc9d03e');

    // The fields land where 2.2.1.3 says: LM at 12, NT at 20, domain, user, workstation, session key.
    const msg = result.message;
    const field = (at: number): Buffer =>
      msg.subarray(msg.readUInt32LE(at + 4), msg.readUInt32LE(at + 4) + msg.readUInt16LE(at));
    expect(field(12)).toEqual(result.lmChallengeResponse);
    expect(field(20)).toEqual(result.ntChallengeResponse);
    expect(field(28).toString('utf16le')).toBe(domain);
    expect(field(36).toString('utf16le')).toBe(user);
    expect(hex(field(52))).toBe('c5dad2544fc9799094ce1ce90bc9d03e');
    expect(msg.readUInt32LE(60) & NegotiateFlag.KeyExchange).toBeTruthy();
  });

  it('seals and signs "Plaintext" exactly as GSS_WrapEx does in 4.2.4.4', () => {
    const flags =
      NegotiateFlag.ExtendedSessionSecurity | NegotiateFlag.KeyExchange | NegotiateFlag.Negotiate128;
    const client = new NtlmSessionSecurity(randomSessionKey, flags, 'client');
    const { sealed, signature } = client.wrap(Buffer.from('Plaintext', 'utf16le'));
    expect(hex(sealed)).toBe('54e50165bf1936dc996020c1811b0f06fb5f');
    expect(hex(signature)).toBe('010000007fb38ec5c55d497600000000');
  });

  it('both directions round-trip over a connection, and tampering or replay is refused', () => {
    const flags =
      NegotiateFlag.ExtendedSessionSecurity | NegotiateFlag.KeyExchange | NegotiateFlag.Negotiate128;
    const client = new NtlmSessionSecurity(randomSessionKey, flags, 'client');
    const server = new NtlmSessionSecurity(randomSessionKey, flags, 'server');
    for (let i = 0; i < 3; i++) {
      const up = client.wrap(Buffer.from(`request ${i}`));
      expect(server.unwrap(up.sealed, up.signature).toString()).toBe(`request ${i}`);
      const down = server.wrap(Buffer.from(`response ${i}`));
      expect(client.unwrap(down.sealed, down.signature).toString()).toBe(`response ${i}`);
    }
    const tampered = client.wrap(Buffer.from('rm -rf'));
    tampered.sealed[0] = tampered.sealed[0]! ^ 1;
    expect(() => server.unwrap(tampered.sealed, tampered.signature)).toThrow(/does not verify/);

    const fresh = new NtlmSessionSecurity(randomSessionKey, flags, 'server');
    const first = new NtlmSessionSecurity(randomSessionKey, flags, 'client').wrap(Buffer.from('once'));
    fresh.unwrap(first.sealed, first.signature);
    expect(() => fresh.unwrap(first.sealed, first.signature)).toThrow(/does not verify/);
  });
});

describe('a whole handshake with the test acceptor (Windows-like challenge with a timestamp, so a MIC)', () => {
  const users = new Map([['DRYDOCK\\deployer', 'S3cret!pass']]);

  it('authenticates, sets up matching session security, and refuses a wrong password or a bad MIC', () => {
    const negotiate = negotiateMessage();
    const { message: chal, state } = challengeMessage(negotiate, { domain: 'DRYDOCK', computer: 'WIN-HOST' });
    expect(parseChallengeMessage(chal).avPairs.some((p) => p.id === AvId.Timestamp)).toBe(true);
    const auth = authenticateMessage({
      negotiate,
      challenge: chal,
      credentials: { user: 'deployer', domain: 'DRYDOCK', password: 'S3cret!pass' },
    });
    expect(auth.lmChallengeResponse).toEqual(Buffer.alloc(24));
    const accepted = acceptAuthenticate(auth.message, state, users);
    expect(accepted.user).toBe('DRYDOCK\\deployer');
    const sealed = auth.security.wrap(Buffer.from('<s:Envelope/>'));
    expect(accepted.security.unwrap(sealed.sealed, sealed.signature).toString()).toBe('<s:Envelope/>');

    const wrong = authenticateMessage({
      negotiate,
      challenge: chal,
      credentials: { user: 'deployer', domain: 'DRYDOCK', password: 'guess' },
    });
    expect(() => acceptAuthenticate(wrong.message, state, users)).toThrow(/logon failure/);

    const badMic = Buffer.from(auth.message);
    badMic[72] = badMic[72]! ^ 1;
    expect(() => acceptAuthenticate(badMic, state, users)).toThrow(/MIC/);
  });

  it('without key exchange, the session key is the key exchange key and none is sent', () => {
    const negotiate = negotiateMessage((CLIENT_FLAGS & ~NegotiateFlag.KeyExchange) >>> 0);
    const { message: chal, state } = challengeMessage(negotiate, { domain: 'DRYDOCK', computer: 'WIN-HOST' });
    expect(parseChallengeMessage(chal).flags & NegotiateFlag.KeyExchange).toBe(0);
    const auth = authenticateMessage({
      negotiate,
      challenge: chal,
      credentials: { user: 'deployer', domain: 'DRYDOCK', password: 'S3cret!pass' },
    });
    expect(auth.keys.encryptedRandomSessionKey).toHaveLength(0);
    expect(auth.keys.exportedSessionKey).toEqual(auth.keys.sessionBaseKey);
    const accepted = acceptAuthenticate(auth.message, state, users);
    const sealed = auth.security.wrap(Buffer.from('no key exchange'));
    expect(accepted.security.unwrap(sealed.sealed, sealed.signature).toString()).toBe('no key exchange');
  });
});
