import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { NoSchemaIntrospectionCustomRule } from 'graphql';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createYoga, type Plugin } from 'graphql-yoga';
import { resolveIdentity } from '../auth/identity';
import type { AppDeps } from '../app';
import type { GraphQLContext } from '../graphql/context';
import { schema } from '../graphql/schema';

const noIntrospection: Plugin = {
  onValidate({ addValidationRule }) {
    addValidationRule(NoSchemaIntrospectionCustomRule);
  },
};

/** GraphQL at /graphql (graphql-yoga); GraphiQL and introspection outside production only. */
export async function graphqlRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const development = deps.env.DRYDOCK_ENV !== 'production';
  const yoga = createYoga<{ req: FastifyRequest; reply: FastifyReply }, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: development ? { title: 'Drydock GraphiQL', defaultQuery: defaultQuery } : false,
    // The bundled renderer: the default one loads GraphiQL from a CDN, which an offline site cannot reach.
    renderGraphiQL,
    landingPage: false,
    maskedErrors: true,
    plugins: development ? [] : [noIntrospection],
    logging: {
      debug: (...args) => app.log.debug(args.join(' ')),
      info: (...args) => app.log.info(args.join(' ')),
      warn: (...args) => app.log.warn(args.join(' ')),
      error: (...args) => app.log.error(args.join(' ')),
    },
    context: ({ req }) => ({
      identity: resolveIdentity(deps.env, req),
      env: deps.env,
      orm: deps.orm,
      temporal: deps.temporal,
      taskQueue: deps.env.TEMPORAL_TASK_QUEUE,
      agentKeys: deps.hub.keys,
    }),
  });

  app.route({
    url: '/graphql',
    method: ['GET', 'POST', 'OPTIONS'],
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
