import type { Client as TemporalClient } from '@temporalio/client';
import type { Env } from '../../infra/config/env';
import type { Orm } from '../../infra/db/orm';
import type { AgentKeyCache } from '../agent-channel/key-cache';
import type { Identity } from '../auth/identity';
import type { RequestBudget } from './request-budget';
import type { Loaders } from './loaders';

export interface GraphQLContext {
  identity: Identity | null;
  env: Env;
  orm: Orm;
  temporal: TemporalClient;
  taskQueue: string;
  /** This process's agent key cache: a revocation forgets its keys here once committed. */
  agentKeys?: AgentKeyCache;
  /** What this request may still spend (transactions, Temporal queries). */
  budget: RequestBudget;
  /** Per-request batch loaders: one transaction per list level, not one per parent. */
  loaders: Loaders;
}
