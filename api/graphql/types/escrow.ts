import type { EscrowKind } from '../../../infra/wire/escrow-envelope';
import {
  escrowedSecretsOfMachine,
  escrowKeyOfTenant,
  escrowKeysOfTenant,
  destroyRetiredEscrowKey,
  releaseSecretsToRewrap,
  replaceWrappedEscrowKey,
  revealSecret,
  secretsSealedTo,
  setupEscrowKey,
  submitRewrappedSecrets,
  type EscrowedSecretView,
  type EscrowKeyView,
  type RevealedSecret,
} from '../../services/escrow';
import { builder } from '../builder';

const EscrowKindEnum = builder.enumType('EscrowKind', {
  values: {
    LOCAL_ADMIN_PASSWORD: { value: 'local-admin-password' },
    BITLOCKER_RECOVERY_PASSWORD: { value: 'bitlocker-recovery-password' },
  } as const,
});

const EscrowKeyRef = builder.objectRef<EscrowKeyView>('EscrowKey').implement({
  description:
    'A tenant escrow key (ADR 0044): machines encrypt to its public key; its private key exists only wrapped under a passphrase the server never sees.',
  fields: (t) => ({
    keyVersion: t.exposeInt('keyVersion'),
    publicKey: t.exposeString('publicKey', {
      description: 'base64url of the uncompressed P-256 point (HPKE SerializePublicKey).',
    }),
    fingerprint: t.exposeString('fingerprint', { description: 'Printed on every recovery share.' }),
    kdfName: t.string({ resolve: (k) => k.kdf.name }),
    kdfIterations: t.int({ resolve: (k) => k.kdf.iterations }),
    createdBy: t.exposeString('createdBy'),
    createdAt: t.field({ type: 'DateTime', resolve: (k) => k.createdAt }),
    retiredAt: t.field({ type: 'DateTime', nullable: true, resolve: (k) => k.retiredAt }),
    destroyedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When its wrapped private key was destroyed, after a key roll re-wrapped every secret.',
      resolve: (k) => k.destroyedAt,
    }),
    wrappedPrivateKey: t.exposeString('wrappedPrivateKey', {
      nullable: true,
      description:
        'The `ddk1` blob the browser unlocks with the passphrase; null without reveal-secrets, or once destroyed.',
    }),
    sealedSecrets: t.int({
      description:
        'Secrets (of those you can see) whose newest envelope is sealed to this version: after a key roll, what is left to re-wrap before it can be destroyed.',
      resolve: (k, _args, ctx) => secretsSealedTo(ctx, k.keyVersion),
    }),
  }),
});

const SecretRevealRef = builder.objectRef<EscrowedSecretView['reveals'][number]>('SecretReveal').implement({
  fields: (t) => ({
    actor: t.exposeString('actor'),
    at: t.field({ type: 'DateTime', resolve: (r) => r.at }),
  }),
});

const EscrowedSecretRef = builder.objectRef<EscrowedSecretView>('EscrowedSecret').implement({
  description: 'One escrowed version of a machine’s secret: never its value.',
  fields: (t) => ({
    id: t.exposeID('id'),
    machineId: t.exposeID('machineId'),
    kind: t.field({ type: EscrowKindEnum, resolve: (s) => s.kind }),
    secretVersion: t.exposeInt('secretVersion'),
    keyVersion: t.exposeInt('keyVersion'),
    account: t.exposeString('account', { nullable: true, description: 'The local account (passwords).' }),
    protectorId: t.exposeString('protectorId', {
      nullable: true,
      description: 'The BitLocker key protector holding it.',
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (s) => s.createdAt }),
    confirmedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description:
        'When the machine confirmed it holds this version. Null: escrowed, then the change was not confirmed (the machine holds it or an earlier version).',
      resolve: (s) => s.confirmedAt,
    }),
    reveals: t.field({ type: [SecretRevealRef], resolve: (s) => s.reveals }),
  }),
});

const RevealedSecretRef = builder.objectRef<RevealedSecret>('RevealedSecret').implement({
  description:
    'One secret’s ciphertext, released after its reveal was audited; opened in the browser with the unlocked tenant key (tenantId, machineId, kind and versions are its associated data).',
  fields: (t) => ({
    id: t.exposeID('id'),
    tenantId: t.exposeID('tenantId'),
    machineId: t.exposeID('machineId'),
    kind: t.field({ type: EscrowKindEnum, resolve: (s) => s.kind as EscrowKind }),
    secretVersion: t.exposeInt('secretVersion'),
    keyVersion: t.exposeInt('keyVersion'),
    confirmedAt: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.confirmedAt }),
    envelope: t.exposeString('envelope'),
  }),
});

builder.queryField('escrowKey', (t) =>
  t.field({
    type: EscrowKeyRef,
    nullable: true,
    description:
      'The tenant’s current escrow key, or a given version; null when escrow is not set up. The wrapped private key only for reveal-secrets holders.',
    args: { keyVersion: t.arg.int({ required: false }) },
    resolve: (_root, args, ctx) => escrowKeyOfTenant(ctx, { keyVersion: args.keyVersion }),
  }),
);

builder.queryField('escrowKeys', (t) =>
  t.field({
    type: [EscrowKeyRef],
    description:
      'Every version of the tenant’s escrow key, the current one first: retired ones after a key roll, destroyed ones without their wrapped private key.',
    resolve: (_root, _args, ctx) => escrowKeysOfTenant(ctx),
  }),
);

builder.queryField('escrowedSecrets', (t) =>
  t.field({
    type: [EscrowedSecretRef],
    description: 'A machine’s escrowed secrets and who revealed them (viewer role); never a value.',
    args: { machineId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => escrowedSecretsOfMachine(ctx, String(args.machineId)),
  }),
);

const SetupEscrowKeyInput = builder.inputType('SetupEscrowKeyInput', {
  fields: (t) => ({
    publicKey: t.string({ required: true }),
    wrappedPrivateKey: t.string({ required: true, description: 'The `ddk1` blob made in the browser.' }),
    keyVersion: t.int({ required: true }),
  }),
});

builder.mutationField('setupEscrowKey', (t) =>
  t.field({
    type: EscrowKeyRef,
    description:
      'Installs the escrow key the browser generated (admin role). ESCROW_KEY_EXISTS unless it is the current key’s next version; ESCROW_KEY_INVALID for a malformed or mismatched key.',
    args: { input: t.arg({ type: SetupEscrowKeyInput, required: true }) },
    resolve: (_root, { input }, ctx) => setupEscrowKey(ctx, input),
  }),
);

builder.mutationField('replaceWrappedEscrowKey', (t) =>
  t.field({
    type: EscrowKeyRef,
    description:
      'Break-glass (admin role): replaces one key version’s wrapped private key after the browser restored it from recovery shares and wrapped it under a new passphrase. The blob must name this tenant, this version and the stored public key (ESCROW_KEY_INVALID otherwise); audited as escrow.key-rewrapped.',
    args: {
      keyVersion: t.arg.int({ required: true }),
      wrappedPrivateKey: t.arg.string({ required: true, description: 'The new `ddk1` blob.' }),
    },
    resolve: (_root, args, ctx) => replaceWrappedEscrowKey(ctx, args),
  }),
);

builder.mutationField('revealSecret', (t) =>
  t.field({
    type: RevealedSecretRef,
    description:
      'Releases one secret’s ciphertext (operator role with reveal-secrets), after its audit event has committed. REVEAL_RATE_LIMITED beyond 10 a minute; refusals are audited.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => revealSecret(ctx, String(args.id)),
  }),
);

const RewrapBatchRef = builder
  .objectRef<{ toKeyVersion: number; remaining: number; secrets: RevealedSecret[] }>('EscrowRewrapBatch')
  .implement({
    description:
      'Ciphertexts still sealed only to older tenant keys, released for the browser to re-wrap to the current key.',
    fields: (t) => ({
      toKeyVersion: t.exposeInt('toKeyVersion'),
      remaining: t.exposeInt('remaining', { description: 'Secrets still to re-wrap, this batch included.' }),
      secrets: t.field({ type: [RevealedSecretRef], resolve: (b) => b.secrets }),
    }),
  });

const RewrapResultRef = builder
  .objectRef<{ stored: number; remaining: number; toKeyVersion: number }>('EscrowRewrapResult')
  .implement({
    fields: (t) => ({
      stored: t.exposeInt('stored'),
      remaining: t.exposeInt('remaining'),
      toKeyVersion: t.exposeInt('toKeyVersion'),
    }),
  });

builder.mutationField('escrowRewrapBatch', (t) =>
  t.field({
    type: RewrapBatchRef,
    description:
      'After a key roll: releases up to `limit` (default 50, at most 100) ciphertexts still sealed only to older keys (admin with reveal-secrets, tenant-wide). Audited first, naming every secret released.',
    args: { limit: t.arg.int({ required: false }) },
    resolve: (_root, args, ctx) => releaseSecretsToRewrap(ctx, { limit: args.limit }),
  }),
);

const RewrappedSecretInput = builder.inputType('RewrappedSecretInput', {
  fields: (t) => ({
    id: t.id({ required: true }),
    envelope: t.string({ required: true, description: 'The `dde1` envelope sealed to the current key.' }),
  }),
});

const SubmitRewrappedSecretsInput = builder.inputType('SubmitRewrappedSecretsInput', {
  fields: (t) => ({ secrets: t.field({ type: [RewrappedSecretInput], required: true }) }),
});

builder.mutationField('submitRewrappedSecrets', (t) =>
  t.field({
    type: RewrapResultRef,
    description:
      'Stores envelopes the browser re-wrapped to the current key (admin with reveal-secrets, tenant-wide); ESCROW_ENVELOPE_REFUSED if one does not fit its secret (nothing is stored).',
    args: { input: t.arg({ type: SubmitRewrappedSecretsInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      submitRewrappedSecrets(ctx, {
        secrets: input.secrets.map((s) => ({ id: String(s.id), envelope: s.envelope })),
      }),
  }),
);

builder.mutationField('destroyEscrowKey', (t) =>
  t.field({
    type: EscrowKeyRef,
    description:
      'Destroys a retired key’s wrapped private key (admin, tenant-wide); ESCROW_KEY_IN_USE while it is current or a secret is sealed only to it.',
    args: { keyVersion: t.arg.int({ required: true }) },
    resolve: (_root, args, ctx) => destroyRetiredEscrowKey(ctx, args.keyVersion),
  }),
);
