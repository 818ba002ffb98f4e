import { AuditEventSchema } from './audit-event';
import { ClientSchema } from './client';
import { MachineSchema } from './machine';
import { MembershipSchema } from './membership';
import { SiteSchema } from './site';
import { TenantSchema } from './tenant';
import { UserSchema } from './user';

export const entities = [
  TenantSchema,
  ClientSchema,
  SiteSchema,
  MachineSchema,
  UserSchema,
  MembershipSchema,
  AuditEventSchema,
];

export * from './audit-event';
export * from './client';
export * from './machine';
export * from './membership';
export * from './site';
export * from './tenant';
export * from './user';
export { TENANT_FILTER } from './tenant-scoped';
