import { AgentKeySchema } from './agent-key';
import { AgentTaskSchema } from './agent-task';
import { AlertSchema } from './alert';
import { AuditEventSchema } from './audit-event';
import { ProfileVersionSchema } from './profile';
import { FleetRunSchema, MachineRunSchema } from './provisioning-run';
import { MachineTweakUndoSchema, TweakUndoSchema } from './tweak-undo';
import { SiteEnrollmentKeySchema } from './site-enrollment-key';
import { SiteInstallerSchema } from './site-installer';
import { ClientSchema } from './client';
import { MachineSchema } from './machine';
import { MembershipSchema } from './membership';
import { SiteSchema } from './site';
import { TenantSchema } from './tenant';
import { UserSchema } from './user';
import { ApiTokenSchema, IdpMappingSchema, SessionSchema } from './sign-in';

export const entities = [
  TenantSchema,
  ClientSchema,
  SiteSchema,
  MachineSchema,
  UserSchema,
  MembershipSchema,
  AuditEventSchema,
  SiteEnrollmentKeySchema,
  AgentKeySchema,
  AgentTaskSchema,
  AlertSchema,
  ProfileVersionSchema,
  MachineRunSchema,
  FleetRunSchema,
  TweakUndoSchema,
  MachineTweakUndoSchema,
  SiteInstallerSchema,
  IdpMappingSchema,
  SessionSchema,
  ApiTokenSchema,
];

export * from './agent-key';
export * from './agent-task';
export * from './alert';
export * from './audit-event';
export * from './profile';
export * from './provisioning-run';
export * from './tweak-undo';
export * from './site-enrollment-key';
export * from './site-installer';
export * from './client';
export * from './machine';
export * from './membership';
export * from './site';
export * from './tenant';
export * from './user';
export * from './sign-in';
export { TENANT_FILTER } from './tenant-scoped';
