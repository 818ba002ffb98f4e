import {
  MachineSchema,
  MachineStatus,
  PendingKind,
  Role,
  type EnrollmentRequester,
  type Machine,
} from '../../../infra/db/entities';
import { hasRole } from '../../auth/identity';
import { builder } from '../builder';
import type { GraphQLContext } from '../context';
import { inTenant } from '../tenant-scope';

export const MachineStatusEnum = builder.enumType(MachineStatus, { name: 'MachineStatus' });
export const PendingKindEnum = builder.enumType(PendingKind, {
  name: 'PendingKind',
  description: 'What an operator is asked to decide about a machine.',
});

const RequesterRef = builder.objectRef<EnrollmentRequester>('EnrollmentRequester').implement({
  description: 'Who asked for the decision: the enrollment request behind it.',
  fields: (t) => ({
    sourceIp: t.exposeString('sourceIp'),
    siteId: t.exposeID('siteId'),
    siteCode: t.exposeString('siteCode'),
    hostname: t.exposeString('hostname'),
    keyVersion: t.exposeInt('keyVersion'),
    at: t.exposeString('at'),
  }),
});

/**
 * Raw hardware identifiers (SMBIOS UUID, serials, MachineGuid, MACs, disk serials) are what an
 * enrollment presents as the machine's identity: viewers never read them (docs/SECURITY.md).
 */
const identifierFields = new Set(['hardware', 'serial', 'machineGuid', 'smbiosUuid', 'macs', 'diskSerials']);
const mayReadIdentifiers = (ctx: GraphQLContext) => !!ctx.identity && hasRole(ctx.identity, Role.Operator);

/** `"=1+2"` in a cell is a formula to a spreadsheet: quote every field and defuse such a start. */
export function csvField(value: string): string {
  const defused = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return `"${defused.replace(/"/g, '""')}"`;
}

export const MachineRef = builder.objectRef<Machine>('Machine').implement({
  description: 'A Windows machine enrolled into a site.',
  fields: (t) => ({
    id: t.exposeID('id'),
    siteId: t.exposeID('siteId'),
    machineUid: t.exposeString('machineUid'),
    hostname: t.exposeString('hostname'),
    status: t.field({ type: MachineStatusEnum, resolve: (m) => m.status }),
    pendingReason: t.exposeString('pendingReason', { nullable: true }),
    pendingKind: t.field({ type: PendingKindEnum, nullable: true, resolve: (m) => m.pendingKind ?? null }),
    replacesMachineId: t.id({
      nullable: true,
      description:
        'A pending machine: the enrolled machine it claims to be (approve it as its replacement, or not).',
      resolve: (m) => m.replacesMachineId ?? null,
    }),
    requestedSiteId: t.id({
      nullable: true,
      description: 'The site this machine asked to move to; it stays in `siteId` until an operator approves.',
      resolve: (m) => m.requestedSiteId ?? null,
    }),
    requestedBy: t.field({ type: RequesterRef, nullable: true, resolve: (m) => m.requestedBy ?? null }),
    agentVersion: t.exposeString('agentVersion', { nullable: true }),
    bootId: t.exposeString('bootId', { nullable: true }),
    inventoryJson: t.string({
      nullable: true,
      description:
        'The last inventory the agent reported, as JSON. Hardware identifiers (serials, SMBIOS UUID, MachineGuid, MACs) are left out below the operator role.',
      resolve: (m, _args, ctx) => {
        if (!m.inventory) return null;
        if (mayReadIdentifiers(ctx)) return JSON.stringify(m.inventory);
        return JSON.stringify(
          Object.fromEntries(Object.entries(m.inventory).filter(([k]) => !identifierFields.has(k))),
        );
      },
    }),
    autopilotHashCsv: t.string({
      nullable: true,
      description:
        'The harvested Autopilot hardware hash as the one-row CSV Intune imports (Device Serial Number,Windows Product ID,Hardware Hash); every field quoted. Operator role (null below it).',
      resolve: (m, _args, ctx) =>
        m.autopilot && mayReadIdentifiers(ctx)
          ? `Device Serial Number,Windows Product ID,Hardware Hash\r\n${[
              m.autopilot.serial,
              m.autopilot.productId ?? '',
              m.autopilot.hardwareHash,
            ]
              .map(csvField)
              .join(',')}\r\n`
          : null,
    }),
    lastSeenAt: t.field({ type: 'DateTime', nullable: true, resolve: (m) => m.lastSeenAt ?? null }),
    createdAt: t.field({ type: 'DateTime', resolve: (m) => m.createdAt }),
  }),
});

builder.queryField('machines', (t) =>
  t.field({
    type: [MachineRef],
    description: "The tenant's machines, optionally of one site.",
    args: { siteId: t.arg.id({ required: false }) },
    resolve: (_root, args, ctx) =>
      inTenant(ctx, (em) =>
        em.find(MachineSchema, args.siteId ? { siteId: String(args.siteId) } : {}, {
          orderBy: { hostname: 'asc' },
        }),
      ),
  }),
);
