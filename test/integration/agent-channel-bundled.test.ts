import { readFileSync } from 'node:fs';
import { pinnedNodeVersion } from '../../installer/node-win';
import { agentChannelSuite, describeCoreScenarios } from '../helpers/agent-channel-suite';

// Each agent is its own Node process (start-up, bundle load): slower than in-process agents.
jest.setTimeout(240_000);

/**
 * The agent channel's core scenarios (test/helpers/agent-channel-suite.ts) with the agent as it
 * ships: the one script installer/build-agent.ts bundles into drydock-agent.exe, run as a process per
 * machine under the Node version node.exe carries, against a simulated Windows host (`--simulated`),
 * started and stopped the way the service host does it. The same scenarios run in-process in
 * agent-channel.test.ts.
 */
const suite = agentChannelSuite({ bundledAgents: true });

it('runs the bundled script under the pinned Node', () => {
  expect(process.version).toBe(`v${pinnedNodeVersion()}`);
  const script = readFileSync(suite.stack.agentScript!, 'utf8');
  // One self-contained file: nothing of the repository is loaded at run time.
  expect(script).not.toMatch(/require\(["']\.\.?\//);
});

describeCoreScenarios(suite, { fleetSize: 3 });
