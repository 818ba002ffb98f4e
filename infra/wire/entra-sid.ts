/**
 * The SID Windows gives an Entra ID (Azure AD) user on a joined machine: `S-1-12-1-` and the
 * object id's 16 bytes read as four little-endian 32-bit numbers, in the byte order of .NET's
 * `Guid.ToByteArray()` (the first three groups little-endian). The same conversion as Microsoft's
 * Intune documentation (`[Buffer]::BlockCopy([Guid]::Parse($ObjectId).ToByteArray(), …)`).
 * Pure: the API computes it once and the agent checks it again.
 */
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isEntraObjectId(value: string): boolean {
  return GUID.test(value);
}

export function entraObjectIdToSid(objectId: string): string {
  if (!GUID.test(objectId)) throw new Error('an Entra object id is a GUID (8-4-4-4-12 hex digits)');
  const hex = objectId.replace(/-/g, '');
  const bytes = new Uint8Array(16);
  const le = (value: string, at: number, size: number) => {
    let n = parseInt(value, 16);
    for (let i = 0; i < size; i++) {
      bytes[at + i] = n & 0xff;
      n = Math.floor(n / 256);
    }
  };
  le(hex.slice(0, 8), 0, 4);
  le(hex.slice(8, 12), 4, 2);
  le(hex.slice(12, 16), 6, 2);
  for (let i = 0; i < 8; i++) bytes[8 + i] = parseInt(hex.slice(16 + i * 2, 18 + i * 2), 16);
  const words = [0, 4, 8, 12].map(
    (at) => bytes[at]! + bytes[at + 1]! * 0x100 + bytes[at + 2]! * 0x10000 + bytes[at + 3]! * 0x1000000,
  );
  return `S-1-12-1-${words.join('-')}`;
}

/** A SID in its string form (`S-1-…`), nothing else: what the agent puts on a command line. */
export const SID_PATTERN = '^S-1-[0-9]+(-[0-9]+){1,14}$';
export const isSid = (value: string): boolean => new RegExp(SID_PATTERN).test(value);
