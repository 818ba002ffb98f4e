import { MachineStatus, PendingKind, type Machine } from '../../../infra/db/entities';
import {
  approveMachine,
  autopilotFor,
  collectInventory,
  getMachine,
  inventoryFor,
  listMachines,
  machineCounts,
  MachineFilter,
  MachineSort,
  pageMachines,
  rejectMachine,
  type MachinePage,
  type SiteMachineCounts,
} from '../../services/machines';
import { revokeAgentKey } from '../../services/keys';
import { builder } from '../builder';
import { EnrollmentRequesterRef } from './enrollment-requester';

export const MachineStatusEnum = builder.enumType(MachineStatus, { name: 'MachineStatus' });
export const PendingKindEnum = builder.enumType(PendingKind, {
  name: 'PendingKind',
  description: 'What an operator is asked to decide about a machine.',
});

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
    requestedBy: t.field({
      type: EnrollmentRequesterRef,
      nullable: true,
      resolve: (m) => m.requestedBy ?? null,
    }),
    agentVersion: t.exposeString('agentVersion', { nullable: true }),
    bootId: t.exposeString('bootId', { nullable: true }),
    inventoryJson: t.string({
      nullable: true,
      description:
        'The last inventory the agent reported, as JSON. Hardware identifiers (serials, SMBIOS UUID, MachineGuid, MACs) are left out below the operator role.',
      resolve: (m, _args, ctx) => {
        const inventory = inventoryFor(ctx, m);
        return inventory ? JSON.stringify(inventory) : null;
      },
    }),
    autopilotHashCsv: t.string({
      nullable: true,
      description:
        'The harvested Autopilot hardware hash as the one-row CSV Intune imports (Device Serial Number,Windows Product ID,Hardware Hash); every field quoted. Operator role (null below it).',
      resolve: (m, _args, ctx) => {
        const hash = autopilotFor(ctx, m);
        return hash
          ? `Device Serial Number,Windows Product ID,Hardware Hash\r\n${[
              hash.serial,
              hash.productId ?? '',
              hash.hardwareHash,
            ]
              .map(csvField)
              .join(',')}\r\n`
          : null;
      },
    }),
    lastSeenAt: t.field({ type: 'DateTime', nullable: true, resolve: (m) => m.lastSeenAt ?? null }),
    createdAt: t.field({ type: 'DateTime', resolve: (m) => m.createdAt }),
  }),
});

builder.queryField('machines', (t) =>
  t.field({
    type: [MachineRef],
    description:
      "The tenant's machines, optionally of one site or one status, by hostname. Every row at once: for long lists use machinePage.",
    args: {
      siteId: t.arg.id({ required: false }),
      status: t.arg({ type: MachineStatusEnum, required: false }),
    },
    resolve: (_root, args, ctx) => listMachines(ctx, { siteId: args.siteId, status: args.status }),
  }),
);

const MachineFilterEnum = builder.enumType(MachineFilter, {
  name: 'MachineFilter',
  description:
    'Machines by status, or Online/Offline: active machines whose agent was heard from in the last 5 minutes, or not.',
});
const MachineSortEnum = builder.enumType(MachineSort, { name: 'MachineSort' });

const MachinePageRef = builder.objectRef<MachinePage>('MachinePage').implement({
  description: 'One page of machines and how many match in all.',
  fields: (t) => ({
    total: t.exposeInt('total', { description: 'Machines matching the search and filter, in all pages.' }),
    machines: t.field({ type: [MachineRef], resolve: (p) => p.machines }),
  }),
});

builder.queryField('machinePage', (t) =>
  t.field({
    type: MachinePageRef,
    description:
      "A page of the tenant's machines, searched, filtered and sorted by the server (for lists of tens of thousands). `first` is at most 500.",
    args: {
      first: t.arg.int({ required: false, defaultValue: 100 }),
      offset: t.arg.int({ required: false, defaultValue: 0 }),
      search: t.arg.string({ required: false, description: 'Part of the hostname or machine id, any case.' }),
      filter: t.arg({ type: MachineFilterEnum, required: false }),
      siteId: t.arg.id({ required: false }),
      sort: t.arg({ type: MachineSortEnum, required: false, defaultValue: MachineSort.Hostname }),
      descending: t.arg.boolean({ required: false, defaultValue: false }),
    },
    resolve: (_root, args, ctx) => pageMachines(ctx, args),
  }),
);

const SiteMachineCountsRef = builder.objectRef<SiteMachineCounts>('SiteMachineCounts').implement({
  description: "A site's machines by state.",
  fields: (t) => ({
    siteId: t.exposeID('siteId'),
    online: t.exposeInt('online', { description: 'Active, agent heard from in the last 5 minutes.' }),
    offline: t.exposeInt('offline', { description: 'Active, agent not heard from in the last 5 minutes.' }),
    pending: t.exposeInt('pending', { description: 'Waiting for an operator’s decision.' }),
    retired: t.exposeInt('retired'),
  }),
});

builder.queryField('machineCounts', (t) =>
  t.field({
    type: [SiteMachineCountsRef],
    description: 'Machines by state for each site you can see that has any (counted by the database).',
    resolve: (_root, _args, ctx) => machineCounts(ctx),
  }),
);

builder.queryField('machine', (t) =>
  t.field({
    type: MachineRef,
    nullable: true,
    description: 'One machine of your tenant; null if there is none with this id.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => getMachine(ctx, { id: args.id }),
  }),
);

builder.mutationField('approveMachine', (t) =>
  t.field({
    type: MachineRef,
    description:
      "Decides what a machine waits for (operator role). A pending machine becomes active as a machine of its own, or with `asReplacement` takes over the machine it claims to be (its site, its row, its history; that machine's old agent key stops working). A machine that asked to move to another site moves.",
    args: {
      id: t.arg.id({ required: true }),
      asReplacement: t.arg.boolean({
        required: false,
        defaultValue: false,
        description: 'For a pending machine: replace the machine it claims to be instead of adding one.',
      }),
    },
    resolve: (_root, args, ctx) =>
      approveMachine(ctx, { id: args.id, asReplacement: args.asReplacement ?? false }),
  }),
);

builder.mutationField('rejectMachine', (t) =>
  t.field({
    type: MachineRef,
    description:
      'Refuses what a machine waits for (operator role): a pending machine is retired and its agent key revoked; a move request is dropped and the machine stays in its site.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => rejectMachine(ctx, { id: args.id }),
  }),
);

builder.mutationField('collectInventory', (t) =>
  t.field({
    type: 'String',
    description:
      'Starts a collectInventory workflow for the machine; returns its workflow id. Operator role.',
    args: { machineId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => collectInventory(ctx, { machineId: args.machineId }),
  }),
);

builder.mutationField('revokeAgentKey', (t) =>
  t.field({
    type: 'Int',
    description:
      "Revokes the machine's agent key(s): its requests get 401 at once, its long-poll ends. Engineer role. Returns how many.",
    args: { machineId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => revokeAgentKey(ctx, { machineId: args.machineId }),
  }),
);
