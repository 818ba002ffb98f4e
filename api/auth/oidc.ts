import { readFileSync } from 'node:fs';
import * as oidc from 'openid-client';
import { ConfigError, type Env } from '../../infra/config/env';
import { DEV_IDP_CLIENT_ID } from '../../infra/auth/demo-users';

/**
 * The relying party (openid-client): discovery of the configured issuer, done once and again after
 * a failure (the provider may start after the API). Strict issuer checks: Entra ID needs its
 * tenant-specific issuer, never /common (docs/sso.md).
 */
export class OidcClient {
  private config: Promise<oidc.Configuration> | null = null;

  constructor(private readonly env: Env) {}

  get issuer(): string | undefined {
    return this.env.OIDC_ISSUER;
  }

  configuration(): Promise<oidc.Configuration> {
    if (!this.config) {
      this.config = this.discover();
      this.config.catch(() => (this.config = null));
    }
    return this.config;
  }

  private async discover(): Promise<oidc.Configuration> {
    const { OIDC_ISSUER: issuer, OIDC_CLIENT_SECRET_FILE: secretFile } = this.env;
    if (!issuer) throw new ConfigError('invalid OIDC_ISSUER: sign-in is not configured (docs/sso.md)');
    const clientId = this.env.OIDC_CLIENT_ID ?? DEV_IDP_CLIENT_ID;
    const secret = secretFile ? readFileSync(secretFile, 'utf8').trim() : undefined;
    const url = new URL(issuer);
    return oidc.discovery(
      url,
      clientId,
      secret ? { client_secret: secret } : undefined,
      secret ? oidc.ClientSecretPost(secret) : oidc.None(),
      {
        // Plain http only for a provider on this machine (the development provider).
        execute: url.protocol === 'http:' && isLoopbackUrl(url) ? [oidc.allowInsecureRequests] : [],
        timeout: 10,
      },
    );
  }
}

const isLoopbackUrl = (url: URL) => /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(url.hostname);

export { oidc };
