import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import * as packet from 'dns-packet';

/**
 * Plain DNS queries over UDP (TCP when truncated), one server at a time. Node's resolver (c-ares
 * 1.34.8 in Node 24) sends EDNS and refuses answers without an OPT record as EBADRESP — which is
 * what Samba's internal DNS returns, so a gateway in a Samba-run domain would find nothing. This
 * client asks without EDNS, as any stub resolver may (RFC 6891 section 7). `dns-packet` encodes.
 */

export interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

type Answer = packet.Answer;

function overUdp(
  server: string,
  port: number,
  query: Buffer,
  id: number,
  timeoutMs: number,
): Promise<packet.Packet> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(net.isIPv6(server) ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      socket.close();
      reject(Object.assign(new Error(`DNS server ${server} did not answer`), { code: 'ETIMEOUT' }));
    }, timeoutMs);
    socket.on('message', (msg) => {
      const decoded = packet.decode(msg);
      if (decoded.id !== id) return; // not ours (late answer to an earlier try)
      clearTimeout(timer);
      socket.close();
      resolve(decoded);
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      socket.close();
      reject(err);
    });
    socket.send(query, port, server);
  });
}

function overTcp(server: string, port: number, query: Buffer, timeoutMs: number): Promise<packet.Packet> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: server, port, timeout: timeoutMs });
    const chunks: Buffer[] = [];
    socket.on('connect', () => socket.end(packet.streamEncode(packet.decode(query))));
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('end', () => {
      try {
        resolve(packet.streamDecode(Buffer.concat(chunks)));
      } catch (err) {
        reject(err as Error);
      }
    });
    socket.on('timeout', () =>
      socket.destroy(Object.assign(new Error('DNS over TCP timed out'), { code: 'ETIMEOUT' })),
    );
    socket.on('error', reject);
  });
}

/** The answers to one question, asking each server in turn until one answers (NXDOMAIN counts). */
export async function query(
  servers: string[],
  name: string,
  type: 'SRV' | 'A',
  timeoutMs = 2000,
): Promise<Answer[]> {
  let lastError: unknown = new Error('no DNS servers');
  for (const entry of servers) {
    const [server, portText] = net.isIP(entry)
      ? [entry, '53']
      : (entry.match(/^\[?([^\]]+)\]?:(\d+)$/)?.slice(1) ?? [entry, '53']);
    const id = randomInt(1, 65535);
    const q = packet.encode({
      type: 'query',
      id,
      flags: packet.RECURSION_DESIRED,
      questions: [{ type, name, class: 'IN' }],
    });
    try {
      let answer = await overUdp(server!, Number(portText), q, id, timeoutMs);
      if ((answer.flags ?? 0) & packet.TRUNCATED_RESPONSE)
        answer = await overTcp(server!, Number(portText), q, timeoutMs);
      return (answer.answers ?? []).filter((a) => a.type === type);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

export async function resolveSrv(servers: string[], name: string, timeoutMs?: number): Promise<SrvRecord[]> {
  const answers = await query(servers, name, 'SRV', timeoutMs);
  return answers.flatMap((a) =>
    a.type === 'SRV'
      ? [
          {
            name: a.data.target.replace(/\.$/, ''),
            port: a.data.port,
            priority: a.data.priority ?? 0,
            weight: a.data.weight ?? 0,
          },
        ]
      : [],
  );
}

export async function resolve4(servers: string[], name: string, timeoutMs?: number): Promise<string[]> {
  const answers = await query(servers, name, 'A', timeoutMs);
  return answers.flatMap((a) => (a.type === 'A' ? [a.data] : []));
}
