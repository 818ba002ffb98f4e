import {
  DirectoryError,
  enumerateComputers,
  testBind,
  type DirectoryCredential,
  type DirectoryFailureKind,
} from '../gateway/directory/ad-directory';
import { discoverDomain } from '../gateway/directory/domain-discovery';
import { StepFailure, StepKind } from '../../infra/wire/agent-steps';
import { StepError, type StepContext } from '../platform/platform';
import type { StepHandler } from './index';

/**
 * The site gateway's steps (ADR 0029): LAN work against the site's Active Directory, run by the
 * machine an operator made the site's gateway (the API hands these kinds to no other machine).
 * They use the network, not the machine: the platform is not involved. The domain credential comes
 * in the step's context only — resolved by the API into the claim response — and appears in no
 * result, error or progress message.
 */

const failureOf: Record<DirectoryFailureKind, { type: StepFailure; retryable: boolean }> = {
  auth: { type: StepFailure.DirectoryAuthFailed, retryable: false },
  tls: { type: StepFailure.DirectoryTlsFailed, retryable: false },
  network: { type: StepFailure.DirectoryUnreachable, retryable: true },
  timeout: { type: StepFailure.DirectoryUnreachable, retryable: true },
  protocol: { type: StepFailure.DirectoryProtocolError, retryable: false },
};

function asStepError(err: unknown): unknown {
  if (!(err instanceof DirectoryError)) return err;
  const { type, retryable } = failureOf[err.kind];
  return new StepError(type, err.message, retryable);
}

/** The credential the claim carried (the payload names it by `credentialRef`, the API resolved it). */
function credentialFor(ctx: StepContext): DirectoryCredential {
  const credential = ctx.credential;
  if (!credential)
    throw new StepError(
      StepFailure.CredentialUnavailable,
      `the task names the site's domain credential but the claim carried none`,
      false,
    );
  return { user: credential.user, password: credential.password };
}

export const gatewaySteps: {
  [
    K in StepKind.DirectoryDiscover | StepKind.DirectoryTestBind | StepKind.DirectoryEnumerate
  ]: StepHandler<K>;
} = {
  [StepKind.DirectoryDiscover]: async (_platform, p, ctx) => {
    await ctx.progress(10, 'asking DNS for the domain controllers');
    const found = await discoverDomain({
      ...(p.resolvers ? { resolvers: p.resolvers } : {}),
      ...(p.searchSuffixes ? { searchSuffixes: p.searchSuffixes } : {}),
      ...(p.timeoutMs ? { timeoutMs: p.timeoutMs } : {}),
    });
    if (!found) return { found: null, tried: [] };
    const { tried, ...domain } = found;
    return { found: domain, tried };
  },

  [StepKind.DirectoryTestBind]: async (_platform, p, ctx) => {
    const credential = credentialFor(ctx);
    await ctx.progress(30, `binding to ${p.endpoint.host}`);
    try {
      await testBind(p.endpoint, credential, p.domain);
    } catch (err) {
      throw asStepError(err);
    }
    return { domain: p.domain, user: credential.user };
  },

  [StepKind.DirectoryEnumerate]: async (_platform, p, ctx) => {
    const credential = credentialFor(ctx);
    await ctx.progress(5, `binding to ${p.endpoint.host}`);
    try {
      const { computers, pages } = await enumerateComputers(p.endpoint, credential, p.domain, {
        ...(p.pageSize ? { pageSize: p.pageSize } : {}),
        onPage: ({ index, total }) => ctx.progress(50, `page ${index}: ${total} computers so far`),
      });
      return { domain: p.domain, pages, computers };
    } catch (err) {
      throw asStepError(err);
    }
  },
};
