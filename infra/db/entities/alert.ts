import { EntitySchema } from '@mikro-orm/core';
import { tenantFilter } from './tenant-scoped';

export enum AlertKind {
  MachineEnrolled = 'machine.enrolled',
  MachineCollision = 'machine.collision',
  MachineSiteMoved = 'machine.site_moved',
  /** An enrollment with a live machine's hardware identity that could not prove it is that install. */
  MachineReenrollmentUnverified = 'machine.reenrollment_unverified',
  /** An enrolled machine asks to move to another site: it stays where it is until an operator approves. */
  MachineMoveRequested = 'machine.move_requested',
  /** A fleet run's check applied settles whose signals never came (ADR 0014): worth a look. */
  FleetRunLostSignals = 'fleet_run.lost_signals',
  /** Site onboarding (issue 15): the site's domain was found; its credential is needed (raised again as a reminder). */
  DirectoryCredentialNeeded = 'directory.credential-needed',
  /** Discovery found no domain from the gateway's DNS. */
  DirectoryNotFound = 'directory.not-found',
  /** Discovery could not start: the site has no active gateway. */
  DirectoryNoGateway = 'directory.no-gateway',
  /** A profile migration failed and so did its restore: the machine is in between until an engineer restores the backup. */
  MigrationRollbackFailed = 'migration.rollback-failed',
  /** A revealed secret's rotation failed for good: the value someone saw is still valid on the machine. */
  EscrowRotationFailed = 'escrow.rotation-failed',
}

/** Something an operator should look at: a new machine, a collision waiting for approval, a move. */
export interface Alert {
  id: string;
  tenantId: string;
  kind: AlertKind;
  machineId?: string | null;
  siteId?: string | null;
  message: string;
  data: Record<string, unknown>;
  createdAt: Date;
  acknowledgedAt?: Date | null;
}

export const AlertSchema = new EntitySchema<Alert>({
  name: 'Alert',
  tableName: 'alerts',
  filters: tenantFilter(),
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    kind: { enum: true, items: () => AlertKind },
    machineId: { type: 'uuid', nullable: true },
    siteId: { type: 'uuid', nullable: true },
    message: { type: 'string' },
    data: { type: 'json' },
    createdAt: { type: 'Date', onCreate: () => new Date() },
    acknowledgedAt: { type: 'Date', nullable: true },
  },
});
