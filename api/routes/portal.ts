import { existsSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import type { Env } from '../../infra/config/env';
import { portalDist } from '../../portal/build';

/** Paths the API answers itself: the portal's fallback never shadows them (a miss there is a 404). */
const apiPrefixes = ['/graphql', '/v1', '/auth', '/healthz', '/installers', '/portal-config.json'];
const isApiPath = (url: string) =>
  apiPrefixes.some((p) => url === p || url.startsWith(`${p}/`) || url.startsWith(`${p}?`));

/** What the portal needs to know about its surroundings (no secrets: it is served without a session). */
export function portalConfig(env: Env): { temporalUiUrl: string | null; temporalNamespace: string } {
  const temporalUiUrl =
    env.TEMPORAL_UI_URL ??
    (env.DRYDOCK_ENV !== 'production' && !env.TEMPORAL_ADDRESS
      ? `http://127.0.0.1:${env.TEMPORAL_UI_PORT}`
      : null);
  return { temporalUiUrl, temporalNamespace: env.TEMPORAL_NAMESPACE };
}

/**
 * The portal (portal/dist, built by `npm start`, `npm test` or `npm run portal:build`) at `/`:
 * hashed assets cached for good, index.html never; any other GET that wants HTML gets index.html so
 * the portal's own routes (/machines/…) load. Called on the root instance: its 404 handler is the
 * root's (/v1 keeps its own).
 */
export async function portalRoutes(app: FastifyInstance, env: Env): Promise<void> {
  const dist = portalDist;
  const built = existsSync(path.join(dist, 'index.html'));
  app.get('/portal-config.json', async () => portalConfig(env));
  if (built) {
    await app.register(fastifyStatic, {
      root: dist,
      wildcard: false,
      index: ['index.html'],
      setHeaders: (res, file) => {
        res.header(
          'cache-control',
          file.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache',
        );
      },
    });
  } else {
    app.get('/', async (_req, reply) =>
      reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send('The portal is not built: run `npm run portal:build` (npm start does it), then reload.'),
    );
  }
  app.setNotFoundHandler((request, reply) => {
    const wantsHtml = (request.headers.accept ?? '').includes('text/html');
    if (built && request.method === 'GET' && wantsHtml && !isApiPath(request.url)) {
      return reply.header('cache-control', 'no-cache').sendFile('index.html');
    }
    return reply
      .code(404)
      .send({ error: 'Not Found', message: `no route ${request.method} ${request.url.split('?')[0]}` });
  });
}
