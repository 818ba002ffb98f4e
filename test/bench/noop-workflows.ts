import { proxyActivities } from '@temporalio/workflow';

/**
 * The provisioning bench's baseline (test/bench/provisioning.bench.ts): a workflow that runs `steps`
 * bare no-op activities one after another, as a machine's run does its steps. Bundled on its own
 * by the bench's baseline worker, apart from the product's workflows.
 */
const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '1 minute' });

export async function noopSteps(steps: number): Promise<number> {
  for (let i = 0; i < steps; i++) await noop();
  return steps;
}
