import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GraphQLError, NoSchemaIntrospectionCustomRule, type ValidationContext } from 'graphql';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createYoga, maskError, type Plugin } from 'graphql-yoga';
import { serverSecret, type Env } from '../../infra/config/env';
import { authenticate } from '../auth/authenticate';
import type { AppDeps } from '../app';
import type { GraphQLContext } from '../graphql/context';
import { fromServiceError } from '../graphql/errors';
import { createLoaders } from '../graphql/loaders';
import { RequestBudget } from '../graphql/request-budget';
import { schema } from '../graphql/schema';

/**
 * A request a browser could send cross-site without a preflight (a form post, a plain GET) must
 * carry a header only scripts of an allowed origin can set (yoga's CSRF prevention, with one
 * exception: a GET asking for an event stream — an EventSource subscription, read-only, which
 * cannot set headers). State-changing requests on the session cookie also need the session's CSRF
 * token (api/auth/csrf.ts).
 */
const csrfPrevention: Plugin = {
  onRequestParse({ request }) {
    const type = request.headers.get('content-type')?.toLowerCase();
    if (type && !/^(application\/x-www-form-urlencoded|multipart\/form-data|text\/plain)/.test(type)) return;
    if (request.headers.has('x-graphql-yoga-csrf') || request.headers.has('x-drydock-csrf')) return;
    if (request.method === 'GET' && request.headers.get('accept')?.includes('text/event-stream')) return;
    throw new GraphQLError('Required CSRF header(s) not present', {
      extensions: { http: { status: 403 }, code: 'CSRF' },
    });
  },
};

const noIntrospection: Plugin = {
  onValidate({ addValidationRule }) {
    addValidationRule(NoSchemaIntrospectionCustomRule);
  },
};

/**
 * A GraphQL document is small: the portal's largest query is a few KiB. Refused above this before
 * it is parsed, so a 1 MiB document never occupies the event loop the agents' long-polls share.
 */
export const GRAPHQL_BODY_LIMIT = 64 * 1024;

/**
 * Static limits on a document, checked by graphql-armor while it is parsed and validated — before
 * any identity is resolved or resolver runs (yoga builds the context after validation).
 */
export const GRAPHQL_LIMITS = {
  maxTokens: 2000,
  maxDepth: 10,
  maxAliases: 15,
  maxDirectives: 20,
  /** graphql-armor's cost: fields weighted by depth and multiplied by literal `first`/`last`. */
  maxCost: 100_000,
};

/** graphql-armor's refusals, by message: each gets QUERY_TOO_EXPENSIVE as its stable code. */
const armorRefusal =
  /^Syntax Error: (Token limit|Query Cost limit|Query depth limit|Aliases limit|Directives limit)/;
const tooExpensive = (error: unknown) =>
  error instanceof GraphQLError && armorRefusal.test(error.message)
    ? new GraphQLError(error.message.replace(/^Syntax Error: /, ''), {
        extensions: { code: 'QUERY_TOO_EXPENSIVE' },
      })
    : error;

/** Gives graphql-armor's parse-time refusal (the token limit) the code the portal maps. */
const armorErrorCodes: Plugin = {
  onParse() {
    return ({ result, replaceParseResult }) => {
      if (result instanceof Error) replaceParseResult(tooExpensive(result) as Error);
    };
  },
};

/** Validation-time refusals (depth, aliases, directives, cost) reported as validation errors with the code. */
const reportRefusal = {
  propagateOnRejection: false,
  onReject: [
    (ctx: ValidationContext | null, error: GraphQLError) =>
      ctx?.reportError(tooExpensive(error) as GraphQLError),
  ],
};

/** The request's Host must be one of these (DNS rebinding: a page on evil.example resolving to 127.0.0.1). */
export function allowedHosts(env: Env): Set<string> {
  const hosts = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);
  for (const h of env.API_ALLOWED_HOSTS?.split(',') ?? []) hosts.add(h.trim().toLowerCase());
  return hosts;
}

/** GraphQL at /graphql (graphql-yoga); GraphiQL and introspection outside production only. */
export async function graphqlRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const development = deps.env.DRYDOCK_ENV !== 'production';
  const origins = deps.env.API_CORS_ORIGINS?.split(',').map((o) => o.trim());
  const hosts = allowedHosts(deps.env);
  const secret = serverSecret(deps.env);
  const yoga = createYoga<{ req: FastifyRequest; reply: FastifyReply }, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: development ? { title: 'Drydock GraphiQL', defaultQuery: defaultQuery } : false,
    // The bundled renderer: the default one loads GraphiQL from a CDN, which an offline site cannot reach.
    renderGraphiQL,
    landingPage: false,
    // A service's refusal becomes its stable code at the field that asked (one place); anything
    // else a resolver throws stays masked as an internal error.
    maskedErrors: {
      maskError: (error, message, isDev) => fromServiceError(error) ?? maskError(error, message, isDev),
    },
    // No CORS unless origins are configured: the portal is same-origin. Never reflect any Origin.
    cors: origins ? { origin: origins, credentials: true, methods: ['GET', 'POST'] } : false,
    plugins: [
      csrfPrevention,
      armorErrorCodes,
      EnvelopArmorPlugin({
        maxTokens: { n: GRAPHQL_LIMITS.maxTokens },
        maxDepth: { n: GRAPHQL_LIMITS.maxDepth, flattenFragments: true, ...reportRefusal },
        maxAliases: { n: GRAPHQL_LIMITS.maxAliases, ...reportRefusal },
        maxDirectives: { n: GRAPHQL_LIMITS.maxDirectives, ...reportRefusal },
        costLimit: { maxCost: GRAPHQL_LIMITS.maxCost, flattenFragments: true, ...reportRefusal },
        // Field suggestions ("did you mean …") would map the schema for a caller without introspection.
        blockFieldSuggestion: { enabled: !development },
      }),
      ...(development ? [] : [noIntrospection]),
    ],
    logging: {
      debug: (...args) => app.log.debug(args.join(' ')),
      info: (...args) => app.log.info(args.join(' ')),
      warn: (...args) => app.log.warn(args.join(' ')),
      error: (...args) => app.log.error(args.join(' ')),
    },
    context: async ({ req }) => {
      const ctx: GraphQLContext = {
        caller: await authenticate(deps.orm, secret, req),
        env: deps.env,
        orm: deps.orm,
        temporal: deps.temporal,
        taskQueue: deps.env.TEMPORAL_TASK_QUEUE,
        agentKeys: deps.hub.keys,
        budget: new RequestBudget(),
        loaders: createLoaders(() => ctx),
      };
      return ctx;
    },
  });

  app.route({
    url: '/graphql',
    method: ['GET', 'POST', 'OPTIONS'],
    bodyLimit: GRAPHQL_BODY_LIMIT,
    onRequest: async (req, reply) => {
      if (hosts.has(req.hostname.toLowerCase()) || hosts.has(req.host.toLowerCase())) return;
      return reply.code(403).send({
        errors: [
          {
            message: `this API does not answer to host ${JSON.stringify(req.host)}; add it to API_ALLOWED_HOSTS`,
            extensions: { code: 'FORBIDDEN_HOST' },
          },
        ],
      });
    },
    errorHandler: (err, _req, reply) => {
      // Fastify's own refusals (a body over the limit, malformed JSON) in GraphQL's error shape.
      const status = (err as { statusCode?: number }).statusCode ?? 500;
      const code =
        (err as { code?: string }).code === 'FST_ERR_CTP_BODY_TOO_LARGE'
          ? 'QUERY_TOO_EXPENSIVE'
          : 'BAD_REQUEST';
      // Refused before its body was read: close the connection rather than read (and drop) the rest.
      if (code === 'QUERY_TOO_EXPENSIVE') void reply.header('connection', 'close');
      void reply.code(status >= 400 && status < 500 ? status : 500).send({
        errors: [
          {
            message:
              code === 'QUERY_TOO_EXPENSIVE'
                ? `the request body is larger than ${GRAPHQL_BODY_LIMIT} bytes`
                : status < 500
                  ? 'the request body is not valid JSON'
                  : 'internal error',
            extensions: { code: status < 500 ? code : 'INTERNAL' },
          },
        ],
      });
    },
    handler: async (req, reply) => {
      const response = await yoga.handleNodeRequestAndResponse(req, reply, { req, reply });
      response.headers.forEach((value, key) => void reply.header(key, value));
      reply.status(response.status);
      reply.send(response.body);
      return reply;
    },
  });
}

const defaultQuery = `# Your tenant, its clients, their sites and machines.
query Fleet {
  tenant {
    name
    clients {
      name
      sites { code name machines { hostname status } }
    }
  }
}
`;
