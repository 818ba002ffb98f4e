import {
  passwordRotationSchedule,
  rotateMachineSecretNow,
  rotateLocalAdminPasswordsNow,
  setPasswordRotationSchedule,
  type RotationScheduleView,
} from '../../services/escrow-rotation';
import { builder } from '../builder';

const RotationScopeEnum = builder.enumType('PasswordRotationScope', {
  values: { SITE: { value: 'site' }, CLIENT: { value: 'client' } } as const,
});

const RotationScheduleRef = builder.objectRef<RotationScheduleView>('PasswordRotationSchedule').implement({
  description: 'A site’s or client’s local admin password rotation schedule (a Temporal Schedule, ADR 0047).',
  fields: (t) => ({
    scheduleId: t.exposeString('scheduleId'),
    intervalDays: t.exposeInt('intervalDays'),
    nextRunAt: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.nextRunAt }),
  }),
});

const RotationStartedRef = builder.objectRef<{ workflowId: string }>('PasswordRotationStarted').implement({
  fields: (t) => ({
    workflowId: t.exposeString('workflowId', {
      description: 'The rotation’s workflow (its `rotationProgress` query in the Temporal UI).',
    }),
  }),
});

builder.queryField('passwordRotationSchedule', (t) =>
  t.field({
    type: RotationScheduleRef,
    nullable: true,
    description: 'The site’s or client’s local admin password rotation schedule; null when it has none.',
    args: {
      scope: t.arg({ type: RotationScopeEnum, required: true }),
      id: t.arg.id({ required: true }),
    },
    resolve: (_root, args, ctx) => passwordRotationSchedule(ctx, { kind: args.scope, id: String(args.id) }),
  }),
);

builder.mutationField('rotateLocalAdminPasswords', (t) =>
  t.field({
    type: RotationStartedRef,
    description:
      'Rotates the local admin password of every machine of a site or client that has one in escrow, now (operator role). A second request while one runs joins it.',
    args: {
      scope: t.arg({ type: RotationScopeEnum, required: true }),
      id: t.arg.id({ required: true }),
    },
    resolve: (_root, args, ctx) =>
      rotateLocalAdminPasswordsNow(ctx, { kind: args.scope, id: String(args.id) }),
  }),
);

const MachineRotationStartedRef = builder
  .objectRef<{ workflowId: string; joined: boolean }>('MachineRotationStarted')
  .implement({
    description: 'An on-demand rotation of one machine’s secret, started or joined.',
    fields: (t) => ({
      workflowId: t.exposeString('workflowId', {
        description: 'The rotation’s workflow (its `rotationStatus` query in the Temporal UI).',
      }),
      joined: t.exposeBoolean('joined', {
        description:
          'A rotation of the machine was already running or waiting (a reveal’s grace, a retry’s pause): joined; a retry’s pause ends.',
      }),
    }),
  });

builder.mutationField('rotateLocalAdminPassword', (t) =>
  t.field({
    type: MachineRotationStartedRef,
    description:
      'Rotates one machine’s local admin password now (operator role): a new one escrowed, then set. Only for a machine Drydock set one on (NOTHING_TO_ROTATE otherwise).',
    args: { machineId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      rotateMachineSecretNow(ctx, String(args.machineId), 'local-admin-password'),
  }),
);

builder.mutationField('rotateBitLockerRecoveryPassword', (t) =>
  t.field({
    type: MachineRotationStartedRef,
    description:
      'Rotates a machine’s BitLocker recovery password now (operator role): a new one escrowed, then put on the volume in place of the old — a re-escrow, e.g. after a restore lost the escrowed version. Only for a machine Drydock turned BitLocker on.',
    args: { machineId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) =>
      rotateMachineSecretNow(ctx, String(args.machineId), 'bitlocker-recovery-password'),
  }),
);

builder.mutationField('setPasswordRotationSchedule', (t) =>
  t.field({
    type: RotationScheduleRef,
    nullable: true,
    description:
      'Rotates a site’s or client’s local admin passwords every `intervalDays` days (1–365), or stops doing so (null): operator role. Returns the schedule, or null once removed.',
    args: {
      scope: t.arg({ type: RotationScopeEnum, required: true }),
      id: t.arg.id({ required: true }),
      intervalDays: t.arg.int({ required: false }),
    },
    resolve: (_root, args, ctx) =>
      setPasswordRotationSchedule(ctx, {
        kind: args.scope,
        id: String(args.id),
        intervalDays: args.intervalDays ?? null,
      }),
  }),
);
