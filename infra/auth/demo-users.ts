import { Role } from '../db/entities/membership';

/** The development sign-in's one password (development and tests only; never in production). */
export const DEMO_PASSWORD = 'drydock-demo';
/** The Drydock client registered at the development OIDC provider (a public client: PKCE, no secret). */
export const DEV_IDP_CLIENT_ID = 'drydock-dev';
/** The second tenant of the demo, for trying (and testing) tenant isolation from the portal. */
export const OTHER_TENANT_SLUG = 'other';

export interface DemoUser {
  email: string;
  name: string;
  /** The IdP tenant the provider puts in `tid`; mapped to a Drydock tenant by idp_mappings. */
  idpTenant: 'demo' | 'other';
  role: Role;
  canRevealSecrets: boolean;
  /** Scoped to the demo tenant's first client only. */
  scoped: boolean;
}

export const DEMO_USERS: readonly DemoUser[] = [
  {
    email: 'viewer@demo.test',
    name: 'Vera Viewer',
    idpTenant: 'demo',
    role: Role.Viewer,
    canRevealSecrets: false,
    scoped: false,
  },
  {
    email: 'operator@demo.test',
    name: 'Otto Operator',
    idpTenant: 'demo',
    role: Role.Operator,
    canRevealSecrets: false,
    scoped: false,
  },
  {
    email: 'engineer@demo.test',
    name: 'Erin Engineer',
    idpTenant: 'demo',
    role: Role.Engineer,
    canRevealSecrets: false,
    scoped: false,
  },
  {
    email: 'admin@demo.test',
    name: 'Ada Admin',
    idpTenant: 'demo',
    role: Role.Admin,
    canRevealSecrets: true,
    scoped: false,
  },
  {
    email: 'scoped@demo.test',
    name: 'Sam Scoped',
    idpTenant: 'demo',
    role: Role.Operator,
    canRevealSecrets: false,
    scoped: true,
  },
  {
    email: 'admin@other.test',
    name: 'Olga Other',
    idpTenant: 'other',
    role: Role.Admin,
    canRevealSecrets: true,
    scoped: false,
  },
];
