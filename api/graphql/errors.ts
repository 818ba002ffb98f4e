import { GraphQLError } from 'graphql';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { SiteFailure } from '../../workflows/sites/contracts';

/** Stable error codes the portal maps to a sentence. Never rename one: add a new one. */
export enum ErrorCode {
  Unauthenticated = 'UNAUTHENTICATED',
  Forbidden = 'FORBIDDEN',
  NotFound = 'NOT_FOUND',
  BadUserInput = 'BAD_USER_INPUT',
  ClientNotFound = 'CLIENT_NOT_FOUND',
  SiteCodeTaken = 'SITE_CODE_TAKEN',
  InvalidProfile = 'INVALID_PROFILE',
  Unavailable = 'UNAVAILABLE',
  RunNotRunning = 'RUN_NOT_RUNNING',
  RunNotRetryable = 'RUN_NOT_RETRYABLE',
  RunInProgress = 'RUN_IN_PROGRESS',
  /** A request over a limit: document depth, aliases, tokens, cost, or transactions it opened. */
  QueryTooExpensive = 'QUERY_TOO_EXPENSIVE',
  /** Selected nothing to run (a fleet run whose selection matches no machine). */
  EmptySelection = 'EMPTY_SELECTION',
  InstallerKeyNotAvailable = 'INSTALLER_KEY_NOT_AVAILABLE',
}

export function apiError(
  code: ErrorCode,
  message: string,
  extra: Record<string, unknown> = {},
): GraphQLError {
  return new GraphQLError(message, { extensions: { ...extra, code } });
}

const failureCodes: Record<string, ErrorCode> = {
  [SiteFailure.ClientNotFound]: ErrorCode.ClientNotFound,
  [SiteFailure.SiteCodeTaken]: ErrorCode.SiteCodeTaken,
  [SiteFailure.InvalidSite]: ErrorCode.BadUserInput,
};

/** Maps a failed workflow's application failure type to a stable API error code. */
export function fromWorkflowFailure(err: unknown): GraphQLError {
  if (err instanceof WorkflowFailedError) {
    let cause: unknown = err.cause;
    while (cause) {
      if (cause instanceof ApplicationFailure && cause.type && failureCodes[cause.type]) {
        return apiError(failureCodes[cause.type]!, cause.message);
      }
      cause = (cause as { cause?: unknown }).cause;
    }
  }
  return apiError(ErrorCode.Unavailable, 'the request could not be completed; try again');
}
