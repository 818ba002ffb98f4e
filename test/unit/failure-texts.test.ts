import { failureEnums, failureText, failureTexts, UNKNOWN_FAILURE } from '../../api/services/failures';
import { ErrorCode } from '../../api/services/errors';

/** Every failure type any domain declares, by its enum. */
const declared = Object.entries(failureEnums).flatMap(([name, e]) =>
  Object.values(e).map((type) => ({ enumName: name, type: type as string })),
);

describe('the failure table', () => {
  it('has an entry for every value of every failure enum', () => {
    const missing = declared.filter(({ type }) => !Object.hasOwn(failureTexts, type));
    expect(missing).toEqual([]);
    expect(declared.length).toBeGreaterThan(30);
  });

  it('has no entry for a type no domain declares', () => {
    const known = new Set(declared.map((d) => d.type));
    expect(Object.keys(failureTexts).filter((type) => !known.has(type))).toEqual([]);
  });

  it('gives every type its own upper-case code, unlike the code for an unknown type', () => {
    const codes = Object.values(failureTexts).map((t) => t.code);
    for (const code of codes) expect(code).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
    expect(new Set(codes).size).toBe(codes.length);
    expect(codes).not.toContain(UNKNOWN_FAILURE.code);
  });

  it('gives every type one sentence an operator can read: not its class name, ending in a full stop', () => {
    for (const [type, { sentence }] of Object.entries(failureTexts)) {
      expect({ type, sentence }).toEqual({
        type,
        sentence: expect.stringMatching(/^[A-Zw][^\n]{20,200}\.$/),
      });
      expect(sentence).not.toContain(type);
    }
  });

  // Codes are what the portal keys on: a rename must fail here first (add a new type instead).
  it('keeps the codes the portal already knows', () => {
    expect(failureText('InstallerHashMismatch').code).toBe('INSTALLER_HASH_MISMATCH');
    expect(failureText('RunClosed').code).toBe('RUN_CLOSED');
    expect(failureText('MachineUnreachable').code).toBe('MACHINE_UNREACHABLE');
    expect(failureText('UndoIncomplete').code).toBe('UNDO_INCOMPLETE');
    // createSite's workflow failures answer the mutation with these GraphQL codes (docs/architecture.md).
    expect(failureText('ClientNotFound').code).toBe(ErrorCode.ClientNotFound);
    expect(failureText('SiteCodeTaken').code).toBe(ErrorCode.SiteCodeTaken);
    expect(failureText('InvalidSite').code).toBe(ErrorCode.BadUserInput);
  });

  it('answers a type it does not know (a newer agent, an unexpected error) with UNKNOWN_FAILURE', () => {
    expect(failureText('SomethingNew')).toEqual(UNKNOWN_FAILURE);
    expect(failureText('toString')).toEqual(UNKNOWN_FAILURE);
    expect(failureText('')).toEqual(UNKNOWN_FAILURE);
  });
});
