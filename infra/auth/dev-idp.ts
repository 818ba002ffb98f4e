import http from 'node:http';
import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { DEMO_PASSWORD, DEMO_USERS, DEV_IDP_CLIENT_ID } from './demo-users';

/**
 * The development and test OIDC provider: a real, certified provider (`oidc-provider`) with the
 * demo users, a plain login form (inputs `login` and `password`) and consent granted for Drydock.
 * Run as its own process (`drydock up` in development, the test stack helpers): it prints one JSON
 * line `{"issuer": …}` when it listens. Never started in production (ADR 0030).
 *
 * Environment: DEV_IDP_PORT (0 = any free port), DEV_IDP_REDIRECT_URIS (comma-separated).
 */
export async function startDevIdp(opts: {
  port: number;
  redirectUris: string[];
}): Promise<{ issuer: string; close(): Promise<void> }> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(opts.port, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const users = new Map(DEMO_USERS.map((u) => [u.email, u]));

  const configuration: Configuration = {
    clients: [
      {
        client_id: DEV_IDP_CLIENT_ID,
        token_endpoint_auth_method: 'none',
        redirect_uris: opts.redirectUris,
        post_logout_redirect_uris: opts.redirectUris.map((u) => new URL('/', u).toString()),
        response_types: ['code'],
        grant_types: ['authorization_code'],
      },
    ],
    pkce: { required: () => true },
    claims: {
      openid: ['sub', 'tid', 'groups'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    // Every claim in the ID token, as Entra ID does: the relying party reads only the ID token.
    conformIdTokenClaims: false,
    findAccount: (_ctx, id) => {
      const user = users.get(id);
      if (!user) return undefined;
      return {
        accountId: id,
        claims: () => ({
          sub: id,
          email: user.email,
          email_verified: true,
          name: user.name,
          tid: user.idpTenant,
          groups: [`drydock-${user.role}`],
        }),
      };
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: { devInteractions: { enabled: false } },
    // Consent is implied for the one client this provider serves (oidc-provider's "skip consent" recipe).
    loadExistingGrant: async (ctx: KoaContextWithOIDC) => {
      const grantId =
        ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session!.grantIdFor(ctx.oidc.client!.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client!.clientId,
        accountId: ctx.oidc.session!.accountId!,
      });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
    cookies: { keys: ['drydock-dev-idp-cookie-key-not-secret'] },
    renderError: (ctx, out) => {
      ctx.type = 'html';
      ctx.body = page(
        'Sign-in error',
        `<p>${escape(String(out.error))}: ${escape(String(out.error_description ?? ''))}</p>`,
      );
    },
  };
  const provider = new Provider(issuer, configuration);
  const callback = provider.callback();

  server.on('request', (req, res) => {
    const match = /^\/interaction\/([A-Za-z0-9_-]+)(\/login)?$/.exec(req.url?.split('?')[0] ?? '');
    if (!match) return callback(req, res);
    interaction(provider, req, res, match[2] === '/login').catch((err: Error) => {
      res.statusCode = 400;
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(page('Sign-in error', `<p>${escape(err.message)}</p><p><a href="/">Start again</a></p>`));
    });
  });
  return {
    issuer,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function interaction(
  provider: Provider,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  submitted: boolean,
): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name !== 'login') {
    // Consent (should loadExistingGrant not have covered it): grant what was asked.
    const grant = new provider.Grant({
      clientId: String(details.params.client_id),
      accountId: details.session!.accountId,
    });
    grant.addOIDCScope(String(details.params.scope ?? 'openid'));
    await provider.interactionFinished(
      req,
      res,
      { consent: { grantId: await grant.save() } },
      {
        mergeWithLastSubmission: true,
      },
    );
    return;
  }
  let problem = '';
  if (submitted) {
    const form = new URLSearchParams(await readBody(req));
    const login = (form.get('login') ?? '').trim().toLowerCase();
    if (DEMO_USERS.some((u) => u.email === login) && form.get('password') === DEMO_PASSWORD) {
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: login } },
        {
          mergeWithLastSubmission: false,
        },
      );
      return;
    }
    problem = '<p role="alert" class="error">Unknown user or wrong password.</p>';
  }
  res.setHeader('content-type', 'text/html; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.end(
    page(
      'Sign in to Drydock (development)',
      `${problem}<form method="post" action="/interaction/${details.uid}/login" autocomplete="off">
  <label>E-mail <input name="login" type="email" required autofocus></label>
  <label>Password <input name="password" type="password" required></label>
  <button type="submit">Sign in</button>
</form>
<p class="hint">Development provider. Users: ${DEMO_USERS.map((u) => `<code>${u.email}</code>`).join(', ')};
password <code>${DEMO_PASSWORD}</code>.</p>`,
    ),
  );
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > 10_000) reject(new Error('form too large'));
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

const escape = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const page = (title: string, body: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}
label{display:block;margin:.75rem 0}input{display:block;width:100%;padding:.4rem;margin-top:.25rem}
button{padding:.5rem 1.25rem}.error{color:#b00020}.hint{color:#555;font-size:.9rem}</style></head>
<body><h1>${escape(title)}</h1>${body}</body></html>`;

if (require.main === module) {
  startDevIdp({
    port: Number(process.env.DEV_IDP_PORT ?? 0),
    redirectUris: (process.env.DEV_IDP_REDIRECT_URIS ?? '').split(',').filter(Boolean),
  }).then(
    (idp) => {
      process.stdout.write(`${JSON.stringify({ issuer: idp.issuer })}\n`);
      const stop = () => void idp.close().then(() => process.exit(0));
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    },
    (err: Error) => {
      process.stderr.write(`dev-idp: ${err.message}\n`);
      process.exit(1);
    },
  );
}
