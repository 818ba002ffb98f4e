import { ConfigError, type Env } from './env';

const loopbackName = /^(localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|\[::1\])$/i;

/** A bind address only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  return loopbackName.test(host);
}

/**
 * The API refuses to start where the development identity would be reachable from other machines
 * (ADR 0007): outside production it must bind a loopback address. One line saying what to do.
 */
export function assertIdentitySafe(env: Env): void {
  if (env.DRYDOCK_ENV === 'production' || isLoopbackHost(env.API_HOST)) return;
  throw new ConfigError(
    `invalid API_HOST: ${env.API_HOST} is not a loopback address, and with DRYDOCK_ENV=${env.DRYDOCK_ENV} every caller would act as an admin (development identity); bind 127.0.0.1 or run with DRYDOCK_ENV=production`,
  );
}
