import { StepError, type Platform, type StepContext } from './platform/platform';
import type { SimulatedPlatform } from './platform/simulated/simulated-host';

export type StepHandler = (
  platform: Platform,
  payload: Record<string, unknown>,
  ctx: StepContext,
) => Promise<Record<string, unknown>>;

/** The steps this agent can run, by task kind. Every step checks, then acts: delivery is at-least-once. */
export const steps: Record<string, StepHandler> = {
  'inventory.collect': async (platform, _payload, ctx) => {
    await ctx.progress(10, 'reading inventory');
    const inventory = await platform.inventory();
    return { ...inventory, hardware: await platform.hardwareFacts() } as unknown as Record<string, unknown>;
  },
};

export async function runStep(
  platform: Platform,
  kind: string,
  payload: Record<string, unknown>,
  ctx: StepContext,
) {
  const handler = steps[kind];
  if (!handler) throw new StepError('UnknownStep', `this agent does not know the step "${kind}"`, false);
  if (platform.kind === 'simulated') (platform as SimulatedPlatform).recordExecution(ctx.idempotencyKey);
  return handler(platform, payload, ctx);
}
