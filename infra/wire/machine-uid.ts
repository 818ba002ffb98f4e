import { createHash } from 'node:crypto';
import type { Static } from '@sinclair/typebox';
import type { HardwareFactsSchema } from './agent-protocol';

type HardwareFacts = Static<typeof HardwareFactsSchema>;

/**
 * Values firmware and hypervisors put where a real identifier belongs. They identify nothing, so
 * they never become part of a machine's identity (docs/adr/0009-machine-identity.md).
 */
const placeholders = new Set(
  [
    '',
    'none',
    'null',
    'n/a',
    'na',
    'default string',
    'to be filled by o.e.m.',
    'to be filled by oem',
    'system serial number',
    'chassis serial number',
    'base board serial number',
    'not specified',
    'not applicable',
    'not available',
    'invalid',
    'unknown',
    'serial',
    '0',
    '123456789',
    '0123456789',
    '1234567890',
    '03000200-0400-0500-0006-000700080009', // a well-known vendor default SMBIOS UUID
  ].map((v) => v.toLowerCase()),
);

export function isPlaceholder(value: string | undefined | null): boolean {
  if (value === undefined || value === null) return true;
  const v = value.trim().toLowerCase();
  if (placeholders.has(v)) return true;
  const hex = v.replace(/[^0-9a-f]/g, '');
  // All zeros or all F (after dropping separators), or a single repeated character.
  if (hex.length >= 4 && (/^0+$/.test(hex) || /^f+$/.test(hex))) return true;
  return v.length >= 4 && /^(.)\1+$/.test(v.replace(/[-\s]/g, ''));
}

/** The trustworthy identity signals, in a fixed order; placeholders dropped. */
export function identitySignals(hw: HardwareFacts): string[] {
  const signals: string[] = [];
  if (!isPlaceholder(hw.smbiosUuid)) signals.push(`smbios:${hw.smbiosUuid!.trim().toLowerCase()}`);
  if (!isPlaceholder(hw.systemSerial)) signals.push(`system:${hw.systemSerial!.trim()}`);
  if (!isPlaceholder(hw.baseboardSerial)) signals.push(`board:${hw.baseboardSerial!.trim()}`);
  for (const disk of hw.diskSerials ?? []) if (!isPlaceholder(disk)) signals.push(`disk:${disk.trim()}`);
  return signals;
}

/**
 * machine_uid: SHA-256 over the hardware's own identifiers, so it survives an OS reinstall on the
 * same hardware. Only when the hardware offers nothing trustworthy does it fall back to the
 * MachineGuid and MAC addresses (which a reinstall changes). Agent and API both compute it.
 */
export function computeMachineUid(hw: HardwareFacts): string {
  let signals = identitySignals(hw);
  if (signals.length === 0) {
    signals = [
      ...(isPlaceholder(hw.machineGuid) ? [] : [`guid:${hw.machineGuid!.trim().toLowerCase()}`]),
      ...(hw.macs ?? []).filter((m) => !isPlaceholder(m)).map((m) => `mac:${m}`),
    ];
  }
  if (signals.length === 0) throw new Error('no usable hardware identifier: cannot derive a machine_uid');
  return createHash('sha256')
    .update(`drydock-machine-uid-v1\n${signals.join('\n')}`)
    .digest('hex');
}
