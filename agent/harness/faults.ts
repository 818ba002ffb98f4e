import type { FetchLike } from '../api-client';

/**
 * Faults the harness injects into simulated machines.
 * `--faults crash=0.2,network=0.1,slow=300,reboot=0.1,midstep=0.05,winget=0.3`:
 * crash    probability that the agent process dies right after a step, before reporting it;
 * network  probability that any one HTTP request fails as if the network dropped;
 * slow     extra milliseconds every step takes;
 * reboot   probability that the machine restarts right after a step, before reporting it;
 * midstep  probability that the power goes right after any side effect inside a step (the effect
 *          happened, the step did not finish; the machine boots again and the agent resumes);
 * winget   probability that a package's first `winget install` fails with a transient download
 *          error (retries succeed).
 */
export interface FaultSpec {
  crash: number;
  network: number;
  slowMs: number;
  reboot: number;
  midstep: number;
  winget: number;
}

export const noFaults: FaultSpec = { crash: 0, network: 0, slowMs: 0, reboot: 0, midstep: 0, winget: 0 };

const probabilities = ['crash', 'network', 'reboot', 'midstep', 'winget'] as const;

export function parseFaults(text: string | undefined): FaultSpec {
  const spec = { ...noFaults };
  if (!text) return spec;
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [name, raw] = part.split('=');
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0)
      throw new Error(`--faults: ${part} needs a non-negative number`);
    if ((probabilities as readonly string[]).includes(name!)) {
      if (value > 1) throw new Error(`--faults: ${name} is a probability between 0 and 1`);
      spec[name as (typeof probabilities)[number]] = value;
    } else if (name === 'slow') spec.slowMs = value;
    else throw new Error(`--faults: unknown fault "${name}" (crash, network, slow, reboot, midstep, winget)`);
  }
  return spec;
}

/** The process "dies": the harness throws this from the step hook and restarts the agent. */
export class SimulatedCrash extends Error {
  override name = 'SimulatedCrash';
  readonly fatal = true;
  /** The machine lost power or restarted too: it boots again (new boot id) before the agent restarts. */
  constructor(readonly reboot = false) {
    super(
      reboot ? 'simulated power loss / restart (fault injection)' : 'simulated agent crash (fault injection)',
    );
  }
}

export function flakyFetch(probability: number, random: () => number = Math.random): FetchLike {
  return async (url, init) => {
    if (probability > 0 && random() < probability)
      throw new TypeError('fetch failed (simulated network loss)');
    return fetch(url, init);
  };
}
