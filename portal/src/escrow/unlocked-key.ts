import { useSyncExternalStore } from 'react';
import type { TenantKey } from '../../../infra/wire/escrow-envelope';

/**
 * The tenant escrow key this tab has unlocked (ADR 0046): a NON-EXTRACTABLE WebCrypto key held in
 * this module's memory only — never in localStorage, sessionStorage, a cookie or the console — and
 * forgotten after UNLOCK_MINUTES, on "Lock now", or when the tab reloads or closes. One key at a
 * time: a secret sealed to another key version asks for that version's passphrase.
 */
export const UNLOCK_MINUTES = 10;

export interface UnlockedKey {
  key: TenantKey;
  /** Epoch milliseconds when it is forgotten. */
  until: number;
  /** How it was unlocked: the passphrase, or M recovery shares (break-glass). */
  via: 'passphrase' | 'recovery';
}

let current: UnlockedKey | null = null;
let timer: ReturnType<typeof setTimeout> | undefined;
const listeners = new Set<() => void>();
const notify = () => listeners.forEach((l) => l());

export function unlockKey(key: TenantKey, via: UnlockedKey['via']): UnlockedKey {
  if (key.keyPair.privateKey.extractable)
    throw new Error('only a non-extractable key may be kept unlocked in the page');
  clearTimeout(timer);
  current = { key, until: Date.now() + UNLOCK_MINUTES * 60_000, via };
  timer = setTimeout(lockKey, UNLOCK_MINUTES * 60_000);
  notify();
  return current;
}

export function lockKey(): void {
  clearTimeout(timer);
  current = null;
  notify();
}

/** The unlocked key if it is for this tenant and key version and has not expired. */
export function unlockedKeyFor(tenantId: string, keyVersion: number): TenantKey | null {
  if (!current || current.until <= Date.now()) return null;
  return current.key.tenantId === tenantId && current.key.keyVersion === keyVersion ? current.key : null;
}

const subscribe = (listener: () => void) => {
  listeners.add(listener);
  return () => listeners.delete(listener);
};

/** The unlocked key's state for a component (re-renders on unlock, lock and expiry). */
export function useUnlockedKey(): UnlockedKey | null {
  return useSyncExternalStore(subscribe, () => current);
}
