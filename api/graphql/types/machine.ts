import { MachineSchema, MachineStatus, type Machine } from '../../../infra/db/entities';
import { builder } from '../builder';
import { inTenant } from '../tenant-scope';

export const MachineStatusEnum = builder.enumType(MachineStatus, { name: 'MachineStatus' });

export const MachineRef = builder.objectRef<Machine>('Machine').implement({
  description: 'A Windows machine enrolled into a site.',
  fields: (t) => ({
    id: t.exposeID('id'),
    siteId: t.exposeID('siteId'),
    machineUid: t.exposeString('machineUid'),
    hostname: t.exposeString('hostname'),
    status: t.field({ type: MachineStatusEnum, resolve: (m) => m.status }),
    pendingReason: t.exposeString('pendingReason', { nullable: true }),
    agentVersion: t.exposeString('agentVersion', { nullable: true }),
    bootId: t.exposeString('bootId', { nullable: true }),
    inventoryJson: t.string({
      nullable: true,
      description: 'The last inventory the agent reported, as JSON.',
      resolve: (m) => (m.inventory ? JSON.stringify(m.inventory) : null),
    }),
    autopilotHashCsv: t.string({
      nullable: true,
      description:
        'The harvested Autopilot hardware hash as the one-row CSV Intune imports (Device Serial Number,Windows Product ID,Hardware Hash).',
      resolve: (m) =>
        m.autopilot
          ? `Device Serial Number,Windows Product ID,Hardware Hash\n${m.autopilot.serial},${m.autopilot.productId ?? ''},${m.autopilot.hardwareHash}\n`
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
