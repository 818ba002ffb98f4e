import { ConfigError, type Env } from './env';

const loopbackName = /^(localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|\[::1\])$/i;

/** A bind address only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  return loopbackName.test(host);
}

/**
 * The API refuses to start where development conveniences would be reachable from other machines
 * (ADR 0030): outside production it must bind a loopback address (the development sign-in has
 * demo users with a published password, GraphiQL and introspection are on). In production it
 * needs a real OIDC provider and its public URL. One line saying what to do.
 */
export function assertIdentitySafe(env: Env): void {
  if (env.DRYDOCK_ENV === 'production') {
    for (const name of ['OIDC_ISSUER', 'OIDC_CLIENT_ID', 'PUBLIC_URL'] as const)
      if (!env[name]) throw new ConfigError(`invalid ${name}: required in production (docs/sso.md)`);
    return;
  }
  if (isLoopbackHost(env.API_HOST)) return;
  throw new ConfigError(
    `invalid API_HOST: ${env.API_HOST} is not a loopback address, and with DRYDOCK_ENV=${env.DRYDOCK_ENV} the development sign-in (demo users, published password) would be reachable; bind 127.0.0.1 or run with DRYDOCK_ENV=production`,
  );
}
