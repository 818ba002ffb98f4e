import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  ChildWorkflowFailure,
  executeChild,
  isCancellation,
  ParentClosePolicy,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { failureReason } from '../directory/directory-steps';
import {
  deployAgentsProgressQuery,
  deployAgentWorkflowId,
  type DeployAgentsInput,
  type DeployAgentsProgress,
  type HostOutcome,
} from './contracts';
import { deployAgent } from './deploy-agent';

/**
 * A window over many hosts (ADR 0043): at most `concurrency` deployAgent children at once, each
 * with the id its host gives it (so the enrollment path can signal it, and a host already being
 * deployed by another window is not deployed twice). Children are cancelled with the window.
 * A host's own failure is counted, in words, and the window goes on.
 */
export async function deployAgents(input: DeployAgentsInput): Promise<DeployAgentsProgress> {
  const hostIds = [...new Set(input.hostIds)];
  const progress: DeployAgentsProgress = {
    total: hostIds.length,
    inProgress: 0,
    deployed: 0,
    skipped: 0,
    failed: 0,
    hosts: [],
  };
  setHandler(deployAgentsProgressQuery, () => progress);
  const { workflowId } = workflowInfo();

  const run = async (hostId: string) => {
    progress.inProgress += 1;
    let outcome: HostOutcome;
    try {
      const r = await executeChild(deployAgent, {
        workflowId: deployAgentWorkflowId(input.tenantId, hostId),
        args: [
          {
            tenantId: input.tenantId,
            siteId: input.siteId,
            hostId,
            ...(input.settings ? { settings: input.settings } : {}),
          },
        ],
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        staticSummary: `Deploy the agent to host ${hostId} (window ${workflowId})`,
      });
      outcome = { hostId, outcome: r.outcome, reason: r.reason, machineId: r.machineId };
    } catch (err) {
      if (isCancellation(err)) throw err;
      // The child's own failure (its type and words), not the wrapper's "Child Workflow execution failed".
      const reason =
        err instanceof WorkflowExecutionAlreadyStartedError
          ? 'another deployment of this host is running (another window): not started twice'
          : failureReason(err instanceof ChildWorkflowFailure ? err.cause : err);
      outcome = { hostId, outcome: 'failed', reason, machineId: null };
    } finally {
      progress.inProgress -= 1;
    }
    progress.hosts.push(outcome);
    if (outcome.outcome === 'deployed') progress.deployed += 1;
    else if (outcome.outcome === 'skipped') progress.skipped += 1;
    else progress.failed += 1;
  };

  const queue = [...hostIds];
  const width = Math.max(1, Math.min(input.concurrency, queue.length));
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) await run(id);
    }),
  );
  return progress;
}
