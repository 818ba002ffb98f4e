import { readFileSync } from 'node:fs';
import { ConfigError, type Env } from '../config/env';

/**
 * How the API, the workers and the CLI reach a Temporal frontend that is not the local dev server
 * (issue 18, ADR 0045): TLS with the server's CA and a client certificate (mTLS: a self-hosted
 * cluster, or Temporal Cloud with certificates), or TLS with an API key (Temporal Cloud). Files,
 * never values, in the environment: a key or API key must not sit in a process listing or a
 * unit file. Unset, the connection is plain (the dev server on loopback).
 */
export interface TemporalSecurity {
  tls?:
    | true
    | {
        serverRootCACertificate?: Buffer;
        clientCertPair?: { crt: Buffer; key: Buffer };
        serverNameOverride?: string;
      };
  apiKey?: string;
}

const read = (file: string, variable: string): Buffer => {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(
      `${variable}=${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? err}`,
    );
  }
};

export function temporalSecurity(
  env: Pick<
    Env,
    | 'TEMPORAL_TLS_CA'
    | 'TEMPORAL_TLS_CERT'
    | 'TEMPORAL_TLS_KEY'
    | 'TEMPORAL_TLS_SERVER_NAME'
    | 'TEMPORAL_API_KEY_FILE'
  >,
): TemporalSecurity {
  if (!!env.TEMPORAL_TLS_CERT !== !!env.TEMPORAL_TLS_KEY)
    throw new ConfigError(
      'TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together (a client certificate and its key)',
    );
  const apiKey = env.TEMPORAL_API_KEY_FILE
    ? read(env.TEMPORAL_API_KEY_FILE, 'TEMPORAL_API_KEY_FILE').toString('utf8').trim()
    : undefined;
  if (env.TEMPORAL_API_KEY_FILE && !apiKey) throw new ConfigError('TEMPORAL_API_KEY_FILE is empty');
  const custom =
    env.TEMPORAL_TLS_CA || env.TEMPORAL_TLS_CERT || env.TEMPORAL_TLS_SERVER_NAME
      ? {
          ...(env.TEMPORAL_TLS_CA
            ? { serverRootCACertificate: read(env.TEMPORAL_TLS_CA, 'TEMPORAL_TLS_CA') }
            : {}),
          ...(env.TEMPORAL_TLS_CERT && env.TEMPORAL_TLS_KEY
            ? {
                clientCertPair: {
                  crt: read(env.TEMPORAL_TLS_CERT, 'TEMPORAL_TLS_CERT'),
                  key: read(env.TEMPORAL_TLS_KEY, 'TEMPORAL_TLS_KEY'),
                },
              }
            : {}),
          ...(env.TEMPORAL_TLS_SERVER_NAME ? { serverNameOverride: env.TEMPORAL_TLS_SERVER_NAME } : {}),
        }
      : undefined;
  // An API key travels only over TLS (the system's CAs when no CA is given: Temporal Cloud).
  const tls = custom ?? (apiKey ? true : undefined);
  return { ...(tls ? { tls } : {}), ...(apiKey ? { apiKey } : {}) };
}
