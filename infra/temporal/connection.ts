import { Client, Connection, type ClientPlugin } from '@temporalio/client';
import { StartupError } from '../config/fatal';
import type { TemporalSecurity } from './tls';

/** Connects to Temporal or throws one StartupError line; Connection.connect checks the server answers. */
export async function connectTemporal(
  address: string,
  timeoutMs = 5000,
  security: TemporalSecurity = {},
): Promise<Connection> {
  try {
    return await Connection.connect({ address, connectTimeout: timeoutMs, ...security });
  } catch (err) {
    throw new StartupError(`cannot reach Temporal at ${address}: ${firstLine(err)}`);
  }
}

export async function temporalClient(
  address: string,
  namespace: string,
  plugins: ClientPlugin[] = [],
  security: TemporalSecurity = {},
): Promise<Client> {
  const connection = await connectTemporal(address, 5000, security);
  const client = new Client({ connection, namespace, plugins });
  try {
    await connection.workflowService.describeNamespace({ namespace });
  } catch (err) {
    await connection.close();
    throw new StartupError(`Temporal at ${address} has no namespace ${namespace}: ${firstLine(err)}`);
  }
  return client;
}

/** The gist of a connection error: the SDKs wrap the OS error in transport detail. */
export function firstLine(err: unknown): string {
  const message = (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
  if (/ConnectionRefused|Connection refused|ECONNREFUSED/.test(message))
    return 'connection refused (ECONNREFUSED)';
  if (/deadline/i.test(message)) return 'no answer before the connect timeout';
  return message;
}
