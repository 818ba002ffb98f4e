import { computeMachineUid, identitySignals, isPlaceholder } from '../../infra/wire/machine-uid';
import {
  fingerprint,
  generateKey,
  hashKeySecret,
  parseKey,
  verifyKeySecret,
} from '../../infra/security/keys';

describe('placeholder hardware ids', () => {
  it.each([
    '00000000-0000-0000-0000-000000000000',
    'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',
    'To Be Filled By O.E.M.',
    'Default string',
    'System Serial Number',
    '03000200-0400-0500-0006-000700080009',
    '0',
    '   ',
    'XXXXXXXX',
  ])('%j identifies nothing', (value) => {
    expect(isPlaceholder(value)).toBe(true);
  });

  it.each(['4C4C4544-0042-3510-8052-B4C04F4B4E31', 'PF3K9XYZ', 'S4EVNX0N123456'])(
    '%j is a real identifier',
    (value) => {
      expect(isPlaceholder(value)).toBe(false);
    },
  );
});

describe('computeMachineUid', () => {
  const hardware = {
    smbiosUuid: '4C4C4544-0042-3510-8052-B4C04F4B4E31',
    systemSerial: 'PF3K9XYZ',
    baseboardSerial: 'BB123',
    diskSerials: ['S4EVNX0N123456'],
    machineGuid: 'a1b2c3d4-0000-4000-8000-000000000001',
    macs: ['00:11:22:33:44:55'],
  };

  it('survives a reinstall: MachineGuid and MACs do not change it when hardware ids exist', () => {
    expect(
      computeMachineUid({
        ...hardware,
        machineGuid: 'ffffffff-1111-4111-8111-111111111111',
        macs: ['66:77:88:99:AA:BB'],
      }),
    ).toBe(computeMachineUid(hardware));
  });

  it('separates machines that differ in any hardware id', () => {
    expect(computeMachineUid({ ...hardware, systemSerial: 'OTHER' })).not.toBe(computeMachineUid(hardware));
  });

  it('ignores placeholders, so two boards with the OEM default serial are not merged by it', () => {
    expect(identitySignals({ ...hardware, baseboardSerial: 'To Be Filled By O.E.M.' })).not.toContain(
      'board:To Be Filled By O.E.M.',
    );
    expect(computeMachineUid({ ...hardware, baseboardSerial: 'Default string' })).toBe(
      computeMachineUid({ ...hardware, baseboardSerial: undefined }),
    );
  });

  it('falls back to MachineGuid and MACs only when the hardware offers nothing', () => {
    const blank = { smbiosUuid: '00000000-0000-0000-0000-000000000000', systemSerial: 'Default string' };
    const a = computeMachineUid({ ...blank, machineGuid: 'a1b2c3d4-0000-4000-8000-000000000001' });
    const b = computeMachineUid({ ...blank, machineGuid: 'a1b2c3d4-0000-4000-8000-000000000002' });
    expect(a).not.toBe(b);
    expect(() => computeMachineUid(blank)).toThrow(/no usable hardware identifier/);
  });
});

describe('keys', () => {
  it('are 256-bit secrets behind a non-secret lookup id, verified by HMAC', () => {
    const { key, keyId } = generateKey('dek');
    const parsed = parseKey(key, 'dek')!;
    expect(parsed.keyId).toBe(keyId);
    expect(Buffer.from(parsed.secret, 'base64url')).toHaveLength(32);
    const stored = hashKeySecret('server-secret-of-at-least-32-chars!!', parsed);
    expect(stored).not.toContain(parsed.secret);
    expect(verifyKeySecret('server-secret-of-at-least-32-chars!!', parsed, stored)).toBe(true);
    expect(verifyKeySecret('another-server-secret-32-chars-long!', parsed, stored)).toBe(false);
    const tampered = parseKey(`dek_${keyId}_${'A'.repeat(43)}`, 'dek')!;
    expect(verifyKeySecret('server-secret-of-at-least-32-chars!!', tampered, stored)).toBe(false);
  });

  it('refuses the wrong kind and malformed keys', () => {
    expect(parseKey(generateKey('dak').key, 'dek')).toBeNull();
    expect(parseKey('dek_short', 'dek')).toBeNull();
    expect(parseKey(42, 'dek')).toBeNull();
  });

  it('fingerprints as vN (XXXX) in upper-case hex, stable for a key', () => {
    const { key } = generateKey('dek');
    expect(fingerprint(3, key)).toMatch(/^v3 \([0-9A-F]{4}\)$/);
    expect(fingerprint(3, key)).toBe(fingerprint(3, key));
  });
});
