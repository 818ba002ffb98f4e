import { agentDeploymentOf, deployAgents, type AgentDeployment } from '../../services/deployment';
import { builder } from '../builder';

const HostDeploymentOutcomeRef = builder
  .objectRef<AgentDeployment['hosts'][number]>('HostDeploymentOutcome')
  .implement({
    description: 'How one host of a deployment window ended.',
    fields: (t) => ({
      hostId: t.exposeID('hostId'),
      outcome: t.string({
        description: '`deployed`, `skipped`, `failed` or `cancelled`.',
        resolve: (h) => h.outcome,
      }),
      reason: t.exposeString('reason', { description: 'Why, in words (a failure names its kind).' }),
      machineId: t.exposeID('machineId', { nullable: true }),
    }),
  });

const AgentDeploymentRef = builder.objectRef<AgentDeployment>('AgentDeployment').implement({
  description:
    'A window of agent deployments over a site’s discovered hosts (the deployAgents workflow). Each host’s own state is on its DiscoveredHost (`deployState`).',
  fields: (t) => ({
    workflowId: t.exposeString('workflowId'),
    running: t.exposeBoolean('running'),
    total: t.exposeInt('total'),
    inProgress: t.exposeInt('inProgress'),
    deployed: t.exposeInt('deployed'),
    skipped: t.exposeInt('skipped'),
    failed: t.exposeInt('failed'),
    hosts: t.field({ type: [HostDeploymentOutcomeRef], resolve: (d) => d.hosts }),
  }),
});

const DeployAgentsInput = builder.inputType('DeployAgentsInput', {
  fields: (t) => ({
    siteId: t.id({ required: true }),
    hostIds: t.idList({ required: true, description: 'Discovered hosts of the site (1–1000).' }),
    concurrency: t.int({ required: false, description: 'Hosts deployed at once (1–50, default 5).' }),
    port: t.int({
      required: false,
      description: 'The hosts’ WinRM listener port when it is not the default (5985 HTTP, 5986 HTTPS).',
    }),
    https: t.boolean({
      required: false,
      description: 'WinRM over HTTPS (5986) instead of HTTP with NTLM message encryption (5985, default).',
    }),
  }),
});

builder.mutationField('deployAgents', (t) =>
  t.field({
    type: AgentDeploymentRef,
    description:
      'Pushes the site’s agent over WinRM to the hosts through the site’s gateway (operator role): stale and unreachable hosts are skipped with the reason; each deployed host is linked to its machine when it enrolls. Needs the site’s gateway, its accepted domain credential and its built MSI.',
    args: { input: t.arg({ type: DeployAgentsInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      deployAgents(ctx, {
        siteId: String(input.siteId),
        hostIds: input.hostIds.map(String),
        concurrency: input.concurrency ?? null,
        https: input.https ?? null,
        port: input.port ?? null,
      }),
  }),
);

builder.queryField('agentDeployment', (t) =>
  t.field({
    type: AgentDeploymentRef,
    nullable: true,
    description: 'A deployment window’s progress by its workflow id (viewer role), or null.',
    args: { workflowId: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => agentDeploymentOf(ctx, args.workflowId),
  }),
);
