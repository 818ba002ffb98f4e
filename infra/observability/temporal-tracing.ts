import { OpenTelemetryPlugin } from '@temporalio/interceptors-opentelemetry';
import type { Tracing } from './tracing';

/**
 * Temporal's OpenTelemetry plugin for a client or a worker (ADR 0040): the client's start and
 * signal calls carry the caller's trace in their headers, and the worker continues it in workflow
 * and activity spans (workflow spans leave through a sink, so replays export nothing).
 */
export function temporalTracing(tracing: Tracing): OpenTelemetryPlugin {
  return new OpenTelemetryPlugin({ resource: tracing.resource, spanProcessor: tracing.spanProcessor });
}
