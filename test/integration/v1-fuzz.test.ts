import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { Harness } from '../../agent/harness/harness';
import {
  CheckInRequestSchema,
  EnrollRequestSchema,
  ProgressRequestSchema,
  ResultRequestSchema,
  WireErrorCode,
} from '../../infra/wire/agent-protocol';
import { computeMachineUid } from '../../infra/wire/machine-uid';
import { collectInventoryWorkflowId } from '../../workflows/machines/contracts';
import { MachineIdKey, TenantIdKey } from '../../workflows/search-attributes';
import { startAgentStack, type AgentStack } from '../helpers/agent-stack';

/**
 * Fuzzes every `/v1` route with malformed, oversized and hostile requests, generated from the wire
 * schemas by a seeded PRNG (deterministic; FUZZ_SEED=<n> tries another seed, FUZZ_VERBOSE=1 prints
 * the counts). Every answer must be a 4xx `{ error: { code, message } }` with a WireErrorCode, the
 * process must keep serving, and no row may be written.
 *
 * Two behaviours of Fastify's default Ajv shape the generator: it coerces scalars (`"5"` → 5,
 * `["a"]` → "a", `null` → "" or 0) and strips properties the schema does not declare. A "wrong
 * type" here is therefore one that cannot be coerced, and an extra field alone is not an error, so
 * a check-in (which would succeed and write) always also carries a real schema violation.
 */

jest.setTimeout(120_000);

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_f022);
const VERBOSE = Boolean(process.env.FUZZ_VERBOSE);
const V1_BODY_LIMIT = 64 * 1024;
const V1_RESULT_BODY_LIMIT = 16 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Deterministic randomness
// ---------------------------------------------------------------------------------------------

/** mulberry32: tiny, fast, good enough to pick test inputs, and the same sequence for a seed. */
class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  between(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  string(length: number, alphabet: string): string {
    let s = '';
    for (let i = 0; i < length; i++) s += alphabet[this.int(alphabet.length)];
    return s;
  }
  hex(length: number): string {
    return this.string(length, '0123456789abcdef');
  }
  uuid(): string {
    const h = this.hex(32);
    const variant = '89ab'[this.int(4)];
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20)}`;
  }
}

// ---------------------------------------------------------------------------------------------
// JSON bodies: built as values, serialised by hand so hostile keys (`__proto__`) and raw tokens
// (`1e400`) survive exactly as written
// ---------------------------------------------------------------------------------------------

/** A JSON token written verbatim (numbers JSON.stringify cannot produce). */
class Raw {
  constructor(readonly text: string) {}
}
type Path = (string | number)[];
const REMOVE = Symbol('remove');

function encode(value: unknown): string {
  if (value instanceof Raw) return value.text;
  if (Array.isArray(value)) return `[${value.map(encode).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value).map(
      (k) => `${JSON.stringify(k)}:${encode((value as Record<string, unknown>)[k])}`,
    );
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** An own, enumerable property even for `__proto__` (plain assignment would set the prototype). */
function define(target: object, key: string | number, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function cloneJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function setAt(root: unknown, at: Path, value: unknown): unknown {
  if (at.length === 0) return value;
  let node = root as Record<string | number, unknown>;
  for (let i = 0; i < at.length - 1; i++) {
    const key = at[i]!;
    let child = node[key];
    if (child === null || typeof child !== 'object') {
      if (value === REMOVE) return root; // nothing there to remove
      child = typeof at[i + 1] === 'number' ? [] : {};
      define(node, key, child);
    }
    node = child as Record<string | number, unknown>;
  }
  const last = at[at.length - 1]!;
  if (value === REMOVE) delete node[last];
  else define(node, last, value);
  return root;
}

/** Nesting as raw text: deeper than a recursive serialiser (or this process's stack) would go. */
function nested(depth: number, kind: 'object' | 'array'): Raw {
  return kind === 'object'
    ? new Raw(`${'{"a":'.repeat(depth)}{}${'}'.repeat(depth)}`)
    : new Raw(`${'['.repeat(depth)}[]${']'.repeat(depth)}`);
}

function randomJson(rng: Rng, depth = 0): unknown {
  switch (rng.int(depth > 2 ? 5 : 7)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick([0, -1, 1.5, 2 ** 53, -(2 ** 31), new Raw('1e400'), new Raw('-0')]);
    case 3:
      return rng.pick(HOSTILE_STRINGS);
    case 4:
      return rng.string(rng.between(0, 40), 'abcXYZ019 _-./\\"\'{}[]');
    case 5:
      return Array.from({ length: rng.between(0, 4) }, () => randomJson(rng, depth + 1));
    default: {
      const o = {};
      for (let i = rng.between(0, 4); i > 0; i--) define(o, rng.pick(EXTRA_KEYS), randomJson(rng, depth + 1));
      return o;
    }
  }
}

const HOSTILE_STRINGS = [
  '\u0000',
  'a\u0000b',
  '\u0001\u0002\u0003\u001b[31m\u001f\u007f',
  'line\r\n\r\nHTTP/1.1 200 OK\r\n',
  '\u202eevil\u202c',
  '\ud800',
  '\udfff\ud800',
  '🚀'.repeat(20),
  'Z̸̢͉̝͇̈́a̵̙̓l̶͔̐g̷̤̈o̸',
  '\ufeffbom',
  'ÄÖÜ ß',
  "'; drop table machines; --",
  '" or "1"="1',
  '<script>alert(1)</script>',
  '${jndi:ldap://x/a}',
  '{{7*7}}',
  '%s%s%n',
  '../../../../etc/passwd',
  '\\',
  'null',
  'undefined',
  'NaN',
  ' ',
];

/** Property names an attacker might try: prototype members, mass assignment, odd keys. */
const EXTRA_KEYS = [
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__defineGetter__',
  'then',
  'tenantId',
  'machineId',
  'status',
  'isAdmin',
  '',
  ' ',
  '\u0000',
  'ключ',
  'x'.repeat(300),
  '$where',
  'a.b',
  '0',
];

// ---------------------------------------------------------------------------------------------
// Schema-driven breakers: values that make a body invalid even after Fastify's coercion
// ---------------------------------------------------------------------------------------------

interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  patternProperties?: Record<string, JsonSchema>;
  additionalProperties?: boolean;
  items?: JsonSchema;
  maxItems?: number;
  maxProperties?: number;
  anyOf?: JsonSchema[];
  pattern?: string;
  maxLength?: number;
  minLength?: number;
  minimum?: number;
  maximum?: number;
}
const json = (s: TSchema) => s as unknown as JsonSchema;
const typebox = (s: JsonSchema) => s as unknown as TSchema;

const FAIL = Symbol('fail');
const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Raw);

/** Ajv's `coerceTypes: 'array'` as Fastify configures it, for one value and a target type. */
function coerce(schema: JsonSchema, value: unknown): unknown {
  let v = value instanceof Raw ? (JSON.parse(value.text) as unknown) : value;
  const type = schema.type;
  if (type === 'array') {
    if (isPlainObject(v)) return FAIL;
    const arr = Array.isArray(v) ? v : [v];
    return schema.items ? arr.map((item) => coerce(schema.items!, item)) : arr;
  }
  if (type === undefined || type === 'object') return v;
  if (Array.isArray(v) && v.length === 1 && !isPlainObject(v[0]) && !Array.isArray(v[0])) v = v[0];
  if (v !== null && typeof v === 'object') return FAIL;
  switch (type) {
    case 'string':
      if (typeof v === 'string') return v;
      return v === null ? '' : typeof v === 'number' || typeof v === 'boolean' ? String(v) : FAIL;
    case 'number':
    case 'integer':
      if (typeof v === 'number') return v;
      if (typeof v === 'boolean') return Number(v);
      if (v === null) return 0;
      return typeof v === 'string' && v !== '' && Number(v) == (v as unknown as number) ? Number(v) : FAIL;
    case 'boolean':
      if (typeof v === 'boolean') return v;
      if (v === 'true' || v === 1) return true;
      if (v === 'false' || v === 0 || v === null) return false;
      return FAIL;
    case 'null':
      return v === '' || v === 0 || v === false || v === null ? null : FAIL;
    default:
      return v;
  }
}

/** Might Fastify accept `value` for `schema`? Conservative: unsure means yes (not a breaker). */
function mightAccept(schema: JsonSchema, value: unknown): boolean {
  if (schema.anyOf) return schema.anyOf.some((branch) => mightAccept(branch, value));
  if (isPlainObject(value)) return schema.type === undefined || schema.type === 'object';
  if (schema.type === 'object') return false;
  const coerced = coerce(schema, value);
  if (coerced === FAIL) return false;
  if (Array.isArray(coerced) && coerced.includes(FAIL)) return false;
  if (schema.type === 'string') return typeof coerced === 'string' && stringFits(schema, coerced);
  return Value.Check(typebox(schema), coerced);
}

/** As Ajv checks a string: lengths in code points, patterns as unicode regular expressions. */
function stringFits(schema: JsonSchema, s: string): boolean {
  const length = [...s].length;
  if (schema.maxLength !== undefined && length > schema.maxLength) return false;
  if (schema.minLength !== undefined && length < schema.minLength) return false;
  return schema.pattern === undefined || new RegExp(schema.pattern, 'u').test(s);
}

interface Breaker {
  path: Path;
  value: unknown;
}

interface SchemaMap {
  breakers: Breaker[];
  /** Objects whose undeclared properties Fastify strips: where extra keys go. */
  strictObjects: Path[];
  /** Strings with no pattern: any text is valid there, hostile text included. */
  freeStrings: Path[];
  /** Values the schema leaves open (`result`): where deep nesting goes. */
  openValues: Path[];
}

function candidates(schema: JsonSchema, base: unknown): unknown[] {
  const shapes: unknown[] = [
    {},
    { nested: { deeper: [1, 2] } },
    [1, 2],
    [[1]],
    [],
    [{}],
    null,
    true,
    0,
    -1,
    'x',
  ];
  const out = [...shapes];
  const types = schema.anyOf ? schema.anyOf.map((b) => b.type) : [schema.type];
  if (types.includes('string')) {
    const max = schema.maxLength ?? schema.anyOf?.find((b) => b.maxLength)?.maxLength ?? 64;
    out.push('', 'x'.repeat(max + 1), 'y'.repeat(max + 1 + 997), ...HOSTILE_STRINGS);
    if (typeof base === 'string') {
      out.push(
        ` ${base}`,
        `${base} `,
        base.toLowerCase(),
        base.toUpperCase(),
        `${base}\u0000`,
        base.slice(1),
      );
      out.push(`${base}\n`, base.replace(/./, '\u00e9'));
    }
  }
  if (types.includes('integer') || types.includes('number')) {
    const min = schema.minimum ?? 0;
    const max = schema.maximum ?? 2 ** 31;
    out.push(1.5, min - 1, max + 1, 2 ** 53, -(2 ** 53), 'abc', '1.5', '12abc', 'NaN', '', new Raw('1e400'));
    out.push(new Raw('-1e-7'), new Raw('1.0000000000000002'));
  }
  if (types.includes('boolean')) out.push('maybe', 'TRUE', 'yes', 2, -1, 'on');
  return out;
}

function mapSchema(root: TSchema, base: unknown): SchemaMap {
  const map: SchemaMap = { breakers: [], strictObjects: [], freeStrings: [], openValues: [] };
  const walk = (schema: JsonSchema, value: unknown, at: Path) => {
    if (at.length > 0)
      for (const v of candidates(schema, value))
        if (!mightAccept(schema, v)) map.breakers.push({ path: at, value: v });
    if (schema.anyOf) {
      const branch = schema.anyOf.find((b) => Value.Check(typebox(b), value));
      if (branch && isPlainObject(value)) walk(branch, value, at);
      return;
    }
    if (schema.type === 'string' && !schema.pattern && (schema.maxLength ?? 1000) >= 32)
      map.freeStrings.push(at);
    if (schema.type === 'object' && schema.properties) {
      if (schema.additionalProperties === false) map.strictObjects.push(at);
      for (const [key, sub] of Object.entries(schema.properties)) {
        if (schema.required?.includes(key)) map.breakers.push({ path: [...at, key], value: REMOVE });
        walk(sub, isPlainObject(value) ? value[key] : undefined, [...at, key]);
      }
    }
    if (schema.patternProperties) {
      const [, sub] = Object.entries(schema.patternProperties)[0]!;
      if (schema.maxProperties !== undefined) {
        const tooMany = {};
        for (let i = 0; i <= schema.maxProperties; i++) define(tooMany, `k${i}`, 'v');
        map.breakers.push({ path: at, value: tooMany });
      }
      if (Object.keys(sub).length === 0) map.openValues.push(at);
      else walk(sub, undefined, [...at, 'fuzzkey']);
    }
    if (schema.type === 'array' && schema.items) {
      const first = Array.isArray(value) ? (value[0] as unknown) : undefined;
      if (schema.maxItems !== undefined && first !== undefined)
        map.breakers.push({ path: at, value: Array.from({ length: schema.maxItems + 1 }, () => first) });
      walk(schema.items, first, [...at, 0]);
    }
  };
  walk(json(root), base, []);
  return map;
}

/** Up to `n` random breakers for each path, plus its missing-field breaker if it has one. */
function samplePerPath(rng: Rng, breakers: Breaker[], n: number): Breaker[] {
  const byPath = new Map<string, Breaker[]>();
  for (const b of breakers) {
    const key = b.path.join('.');
    byPath.set(key, [...(byPath.get(key) ?? []), b]);
  }
  const out: Breaker[] = [];
  for (const group of byPath.values()) {
    out.push(...group.filter((b) => b.value === REMOVE));
    const pool = group.filter((b) => b.value !== REMOVE);
    for (let k = 0; k < n && pool.length > 0; k++) out.push(...pool.splice(rng.int(pool.length), 1));
  }
  return out;
}

const overlaps = (a: Path, b: Path) => {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
};

// ---------------------------------------------------------------------------------------------
// Cases and checks
// ---------------------------------------------------------------------------------------------

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
interface Outcome {
  status: number;
  code: WireErrorCode;
}
interface Case {
  name: string;
  method: Method;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
  /** Any of these is right. */
  expect: Outcome[];
}
interface Answer {
  status: number;
  contentType: string;
  body: string;
}

const BAD_REQUEST: Outcome = { status: 400, code: WireErrorCode.BadRequest };
/** A path parameter longer than the router takes: 414 URI Too Long, in /v1's error format. */
const URI_TOO_LONG: Outcome = { status: 414, code: WireErrorCode.BadRequest };
const TOO_LARGE: Outcome = { status: 413, code: WireErrorCode.PayloadTooLarge };
const UNSUPPORTED: Outcome = { status: 415, code: WireErrorCode.UnsupportedMediaType };
const UNAUTHORIZED: Outcome = { status: 401, code: WireErrorCode.Unauthorized };
const NOT_FOUND: Outcome = { status: 404, code: WireErrorCode.NotFound };
const REJECTED: Outcome = { status: 401, code: WireErrorCode.EnrollmentRejected };
const UID_MISMATCH: Outcome = { status: 400, code: WireErrorCode.MachineUidMismatch };
const WIRE_CODES = new Set<string>(Object.values(WireErrorCode));
const JSON_TYPE = 'application/json';

function describeCase(c: Case): string {
  const headers = Object.entries(c.headers)
    .map(([k, v]) => `${k}: ${v.length > 80 ? `${v.slice(0, 80)}…(${v.length} chars)` : v}`)
    .join('; ');
  let payload = '';
  if (c.payload !== undefined) {
    const text = Buffer.isBuffer(c.payload) ? `<bytes ${c.payload.toString('hex').slice(0, 80)}>` : c.payload;
    payload = ` body=${JSON.stringify(text.length > 240 ? `${text.slice(0, 240)}…` : text)} (${Buffer.byteLength(c.payload)} bytes)`;
  }
  const url = c.url.length > 160 ? `${c.url.slice(0, 160)}…(${c.url.length} chars)` : c.url;
  return `[${c.name}] ${c.method} ${url} {${headers}}${payload}`;
}

/** Returns what is wrong with an answer, or null. */
function problemWith(c: Case, a: Answer): string | null {
  const got = `got ${a.status} ${a.contentType || '(no content-type)'} ${a.body.slice(0, 200)}`;
  const wanted = `expected ${c.expect.map((e) => `${e.status} ${e.code}`).join(' or ')}`;
  if (a.status < 400 || a.status > 499) return `${describeCase(c)} → ${got}; ${wanted}`;
  if (!a.contentType.startsWith(JSON_TYPE)) return `${describeCase(c)} → not JSON: ${got}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(a.body);
  } catch {
    return `${describeCase(c)} → unparsable body: ${got}`;
  }
  const error = isPlainObject(parsed) ? parsed.error : undefined;
  const stable =
    isPlainObject(parsed) &&
    Object.keys(parsed).join() === 'error' &&
    isPlainObject(error) &&
    Object.keys(error).sort().join() === 'code,message' &&
    typeof error.message === 'string' &&
    typeof error.code === 'string' &&
    WIRE_CODES.has(error.code);
  if (!stable) return `${describeCase(c)} → not a { error: { code, message } } with a WireErrorCode: ${got}`;
  if (!c.expect.some((e) => e.status === a.status && e.code === error.code))
    return `${describeCase(c)} → ${got}; ${wanted}`;
  return null;
}

// ---------------------------------------------------------------------------------------------
// The stack
// ---------------------------------------------------------------------------------------------

let stack: AgentStack;
let enrollmentKey: { key: string; fingerprint: string; version: number };
/** Two enrolled simulated machines: [0] is fuzzed, [1] owns the task of the cross-machine test. */
const machines: { id: string; agentKey: string }[] = [];
let sent = 0;

beforeAll(async () => {
  // High limits so the throttle never answers 429 in place of the validation under test.
  stack = await startAgentStack({
    ENROLL_RATE_LIMIT_PER_MINUTE: '100000',
    ENROLL_LOCKOUT_FAILURES: '100000',
    // Short, so a `wait` wrongly taken as valid costs a second, not the default poll.
    AGENT_POLL_MAX_SECONDS: '1',
  });
  enrollmentKey = await stack.issueEnrollmentKey();
  const h = new Harness({
    apiUrl: stack.apiUrl,
    siteCode: stack.tenant.siteCode,
    enrollmentKey: enrollmentKey.key,
    fingerprint: enrollmentKey.fingerprint,
    machines: 2,
    stateDir: path.join(stack.stateDir, 'fuzz'),
    pollSeconds: 1,
  });
  h.start();
  expect(await h.waitForEnrollment()).toMatchObject({ enrolled: 2, failed: 0 });
  await h.stop();
  for (const m of h.machines)
    machines.push({ id: m.agent.machineId!, agentKey: (await m.platform.loadProtected('agent-key'))! });
});
afterAll(async () => {
  if (VERBOSE) console.log(`v1 fuzz: ${sent} requests in all (seed ${SEED})`);
  await stack?.close();
});

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

async function inject(c: Case): Promise<Answer> {
  sent++;
  const res = await stack.app.inject({
    method: c.method,
    url: c.url,
    headers: c.headers,
    payload: c.payload,
  });
  return { status: res.statusCode, contentType: String(res.headers['content-type'] ?? ''), body: res.body };
}

async function overHttp(c: Case, init: RequestInit = {}): Promise<Answer> {
  sent++;
  const res = await fetch(`${stack.apiUrl}${c.url}`, {
    method: c.method,
    headers: c.headers,
    body: c.payload === undefined ? undefined : new Uint8Array(Buffer.from(c.payload)),
    ...init,
  });
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', body: await res.text() };
}

/**
 * Row counts and a digest of every row of the tables a /v1 request could write. Not
 * `enrollment_guard` / `enrollment_site_rate`: they count failed and valid enrollments, so
 * rejected requests are meant to change them.
 */
async function snapshot(): Promise<Record<string, { rows: number; digest: string }>> {
  const db = await stack.db.adminClient();
  try {
    const out: Record<string, { rows: number; digest: string }> = {};
    for (const table of ['machines', 'agent_keys', 'agent_tasks', 'audit_events', 'alerts']) {
      const { rows } = await db.query<{ rows: number; digest: string }>(
        `select count(*)::int as rows, md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as digest
         from ${table} t`,
      );
      out[table] = rows[0]!;
    }
    return out;
  } finally {
    await db.end();
  }
}

/** Normal requests over the real port: health, an empty long-poll and a check-in. */
async function stillServing(): Promise<Record<string, number>> {
  const key = machines[0]!.agentKey;
  const health = await fetch(`${stack.apiUrl}/healthz`);
  const poll = await fetch(`${stack.apiUrl}/v1/agent/tasks?wait=0`, { headers: bearer(key) });
  const checkIn = await fetch(`${stack.apiUrl}/v1/agent/check-in`, {
    method: 'POST',
    headers: { ...bearer(key), 'content-type': JSON_TYPE },
    body: JSON.stringify({ bootId: 'fuzz-boot', uptimeSeconds: 60, agentVersion: '0.1.0' }),
  });
  const openapi = await stack.app.inject('/v1/openapi.json');
  sent += 4;
  await Promise.all([health.text(), poll.text(), checkIn.text()]);
  return { healthz: health.status, poll: poll.status, checkIn: checkIn.status, openapi: openapi.statusCode };
}
const SERVING = { healthz: 200, poll: 204, checkIn: 200, openapi: 200 };

// ---------------------------------------------------------------------------------------------
// Case generation
// ---------------------------------------------------------------------------------------------

interface Base {
  body: unknown;
  headers: Record<string, string>;
  /** What the route answers to the base body itself (never a success). */
  expect: Outcome;
}
interface BodyRoute {
  name: string;
  url: (rng: Rng) => string;
  schema: TSchema;
  /** The base bodies: valid per schema, refused by the route for another reason, except check-in. */
  bases: (rng: Rng) => Base[];
  /** False where the unmodified base would succeed (and write): every case must then break it. */
  decorationsAlone: boolean;
  /** The route's own body limit, where it is not V1_BODY_LIMIT (a step result: an enumeration). */
  bodyLimit?: number;
}

function hardwareFor(rng: Rng) {
  return {
    smbiosUuid: rng.uuid(),
    systemSerial: `SN-${rng.hex(8).toUpperCase()}`,
    baseboardSerial: `BB-${rng.hex(8).toUpperCase()}`,
    diskSerials: [`DISK-${rng.hex(6).toUpperCase()}`],
    machineGuid: rng.uuid(),
    macs: ['00:15:5D:01:02:03'],
    manufacturer: 'Fuzz Systems',
    model: 'FZ-1',
  };
}
const OS = { name: 'Windows 11 Pro', version: '10.0.22631', build: '22631' };

function enrollBody(rng: Rng, key: string, hardware = hardwareFor(rng)) {
  return {
    siteCode: stack.tenant.siteCode,
    enrollmentKey: key,
    // Never the hardware's real machine_uid: with a valid key the route answers MACHINE_UID_MISMATCH.
    machineUid: rng.hex(64),
    hostname: `FUZZ-${rng.hex(4).toUpperCase()}`,
    hardware,
    os: OS,
    agentVersion: '0.1.0',
    fingerprint: enrollmentKey.fingerprint,
    labels: { rack: 'a1', tier: 'lab' },
  };
}

/** Enrollment keys that must all be refused the same way. */
function wrongEnrollmentKey(rng: Rng): string {
  const [, keyId, secret] = /^dek_([0-9a-f]{16})_(.{43})$/.exec(enrollmentKey.key)!;
  return rng.pick([
    'not-a-key',
    `dek_${rng.hex(16)}_${rng.string(43, 'ABCdef0123-_')}`,
    `dek_${keyId}_${secret![0] === 'A' ? 'B' : 'A'}${secret!.slice(1)}`,
    machines[0]!.agentKey,
    `dek_${keyId}`,
  ]);
}

function bodyRoutes(): BodyRoute[] {
  const agent = bearer(machines[0]!.agentKey);
  const taskUrl = (suffix: string) => (rng: Rng) => `/v1/agent/tasks/${rng.uuid()}/${suffix}`;
  return [
    {
      name: 'enroll',
      url: () => '/v1/enroll',
      schema: EnrollRequestSchema,
      bases: (rng) => [
        { body: enrollBody(rng, wrongEnrollmentKey(rng)), headers: {}, expect: REJECTED },
        { body: enrollBody(rng, enrollmentKey.key), headers: {}, expect: UID_MISMATCH },
      ],
      decorationsAlone: true,
    },
    {
      name: 'check-in',
      url: () => '/v1/agent/check-in',
      schema: CheckInRequestSchema,
      bases: () => [
        {
          body: {
            bootId: 'fuzz-boot',
            uptimeSeconds: 3600,
            agentVersion: '0.1.0',
            hostname: 'FUZZ-HOST',
            inventory: { os: OS, manufacturer: 'Fuzz', model: 'FZ-1', serial: 'SN1', domain: 'corp.example' },
          },
          headers: agent,
          expect: BAD_REQUEST, // never sent unbroken
        },
      ],
      decorationsAlone: false,
    },
    {
      name: 'progress',
      url: taskUrl('progress'),
      schema: ProgressRequestSchema,
      bases: () => [{ body: { percent: 50, message: 'half way' }, headers: agent, expect: NOT_FOUND }],
      decorationsAlone: true,
    },
    {
      name: 'result',
      url: taskUrl('result'),
      schema: ResultRequestSchema,
      // 64 KiB like every route: these tasks are not a gateway's enumeration, the one result that
      // may be larger (ADR 0029; the large body is refused before it is read).
      bases: () => [
        { body: { ok: true, result: { hostname: 'FUZZ-HOST', cpus: 4 } }, headers: agent, expect: NOT_FOUND },
        {
          body: { ok: false, error: { type: 'StepFailed', message: 'boom', retryable: true } },
          headers: agent,
          expect: NOT_FOUND,
        },
      ],
      decorationsAlone: true,
    },
  ];
}

function decorate(rng: Rng, body: unknown, map: SchemaMap, count: number): unknown {
  for (let i = 0; i < count; i++) {
    const kind = rng.int(4);
    if (kind === 0 && map.strictObjects.length > 0) {
      const key = rng.pick(EXTRA_KEYS);
      // constructor.prototype would be refused by the JSON parser: keep this one a plain extra field.
      const value = key === 'constructor' ? rng.pick([1, 'x', [1]]) : randomJson(rng);
      body = setAt(body, [...rng.pick(map.strictObjects), key], value);
    } else if (kind === 1 && map.freeStrings.length > 0) {
      // Not the enrollment key: a mangled key is a different (also right) answer, 401.
      const fields = map.freeStrings.filter((p) => p[p.length - 1] !== 'enrollmentKey');
      body = setAt(body, rng.pick(fields), rng.pick(HOSTILE_STRINGS));
    } else if (kind === 2) {
      const where = map.openValues.length > 0 && rng.chance(0.5) ? rng.pick(map.openValues) : null;
      const deep = nested(rng.between(50, 3000), rng.chance(0.5) ? 'object' : 'array');
      body = where
        ? setAt(body, [...where, 'deep'], deep)
        : map.strictObjects.length > 0
          ? setAt(body, [...rng.pick(map.strictObjects), 'deep'], deep)
          : body;
    } else if (map.strictObjects.length > 0) {
      body = setAt(body, [...rng.pick(map.strictObjects), 'filler'], 'f'.repeat(rng.between(1000, 20_000)));
    }
  }
  return body;
}

function corruptJson(rng: Rng, text: string): string {
  for (let attempt = 0; attempt < 20; attempt++) {
    const at = rng.int(text.length);
    let out: string;
    switch (rng.int(5)) {
      case 0:
        out = text.slice(0, at);
        break;
      case 1:
        out =
          text.slice(0, at) +
          rng.pick(['{', '}', '[', ']', ',', ':', '"', "'", '\\', '\u0000', 'x']) +
          text.slice(at);
        break;
      case 2:
        out = text.slice(0, at) + text.slice(at + 1);
        break;
      case 3:
        out = text.replace(/"/g, "'");
        break;
      default:
        out = `${text.slice(0, at)}\n${text.slice(at)}}`;
    }
    try {
      JSON.parse(out);
    } catch {
      return out;
    }
  }
  return `${text}}`;
}

const INVALID_JSON = [
  '{',
  '}',
  '{"a":}',
  '{"a":1,}',
  "{'a':1}",
  '{a:1}',
  '{"a":NaN}',
  '{"a":Infinity}',
  '{"a":undefined}',
  '{"a":1}/* comment */',
  '{"a":"unterminated}',
  '{"a":"raw\u0001control"}',
  '{"a":1}{"b":2}',
  '\ufeff{',
  '\u0000',
  'tru',
  '"',
];
const NOT_OBJECTS = ['[]', '[{}]', 'null', '0', '-1', '1e400', '"a string"', 'true', '"{\\"a\\":1}"'];

function padJson(total: number): string {
  const shell = '{"pad":""}';
  return `{"pad":"${'p'.repeat(total - shell.length)}"}`;
}

function buildCases(rng: Rng): Case[] {
  const cases: Case[] = [];
  const add = (c: Case) => cases.push(c);
  const jsonHeaders = (h: Record<string, string>) => ({ ...h, 'content-type': JSON_TYPE });

  for (const route of bodyRoutes()) {
    const bases = route.bases(rng);
    const limit = route.bodyLimit ?? V1_BODY_LIMIT;
    const maps = bases.map((b) => mapSchema(route.schema, b.body));
    const post = (
      name: string,
      base: Base,
      payload: string | Buffer | undefined,
      expect: Outcome[],
      headers?: object,
    ) =>
      add({
        name: `${route.name}: ${name}`,
        method: 'POST',
        url: route.url(rng),
        headers: { ...(headers ?? jsonHeaders(base.headers)) } as Record<string, string>,
        payload,
        expect,
      });

    // 1. What the schema says is wrong (missing field, wrong type, too long, pattern, range, count):
    //    up to two breakers for every field of every base body.
    bases.forEach((base, i) => {
      for (const b of samplePerPath(rng, maps[i]!.breakers, 2)) {
        const body = setAt(cloneJson(base.body), b.path, b.value);
        post(
          `breaker ${b.path.join('.')}=${b.value === REMOVE ? '<missing>' : encode(b.value).slice(0, 40)}`,
          base,
          encode(body),
          [BAD_REQUEST],
        );
      }
    });

    // 2. Random mixes: 1–3 breakers on unrelated paths, plus hostile decorations.
    for (let n = 0; n < 30; n++) {
      const i = rng.int(bases.length);
      const base = bases[i]!;
      const map = maps[i]!;
      let body = decorate(rng, cloneJson(base.body), map, rng.between(0, 3));
      const chosen: Breaker[] = [];
      for (let k = rng.between(1, 3); k > 0; k--) {
        const b = rng.pick(map.breakers);
        if (!chosen.some((c) => overlaps(c.path, b.path))) chosen.push(b);
      }
      for (const b of chosen) body = setAt(body, b.path, b.value);
      const text = encode(body);
      post(`mix ${n}`, base, text, Buffer.byteLength(text) > limit ? [TOO_LARGE] : [BAD_REQUEST]);
    }

    // 3. Hostile decorations alone (extra fields, prototype-ish names, deep nesting, odd text):
    //    the route answers as it does to the base, or refuses the body outright.
    if (route.decorationsAlone) {
      for (let n = 0; n < 12; n++) {
        const i = rng.int(bases.length);
        const base = bases[i]!;
        const text = encode(decorate(rng, cloneJson(base.body), maps[i]!, rng.between(1, 4)));
        post(
          `decorated ${n}`,
          base,
          text,
          Buffer.byteLength(text) > limit ? [TOO_LARGE] : [base.expect, BAD_REQUEST],
        );
      }
    }

    const base = bases[0]!;
    const baseText = encode(base.body);
    // 4. Invalid JSON: fixed shapes and random corruptions of the base text.
    INVALID_JSON.forEach((text, n) => post(`invalid JSON ${n}`, base, text, [BAD_REQUEST]));
    for (let n = 0; n < 10; n++) post(`corrupted JSON ${n}`, base, corruptJson(rng, baseText), [BAD_REQUEST]);
    post('invalid UTF-8 outside strings', base, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), [BAD_REQUEST]);

    // 5. Prototype pollution: refused by the JSON parser whatever the rest of the body.
    const inner = baseText.slice(1);
    for (const [n, text] of [
      `{"__proto__":{"polluted":true},${inner}`,
      `{"\\u005f\\u005fproto__":{"polluted":true},${inner}`,
      `{"constructor":{"prototype":{"polluted":true}},${inner}`,
      `{${inner.slice(0, -1)},"x":{"__proto__":{"polluted":true}}}`,
      `{${inner.slice(0, -1)},"x":[{"constructor":{"prototype":{"polluted":true}}}]}`,
    ].entries())
      post(`prototype key ${n}`, base, text, [BAD_REQUEST]);

    // 6. Not an object at all.
    NOT_OBJECTS.forEach((text, n) => post(`not an object ${n}`, base, text, [BAD_REQUEST]));
    post('the body, JSON-encoded twice', base, JSON.stringify(baseText), [BAD_REQUEST]);
    post('the body inside an array', base, `[${baseText}]`, [BAD_REQUEST]);

    // 7. Content types: text is read as a string (not an object); others are not parsed at all.
    const withType = (type: string | null) => {
      const h: Record<string, string> = { ...base.headers };
      if (type !== null) h['content-type'] = type;
      return h;
    };
    post('text/plain', base, baseText, [BAD_REQUEST], withType('text/plain'));
    post('text/plain; charset=utf-8', base, baseText, [BAD_REQUEST], withType('text/plain; charset=utf-8'));
    post(
      'form',
      base,
      'siteCode=X&enrollmentKey=Y',
      [UNSUPPORTED],
      withType('application/x-www-form-urlencoded'),
    );
    post('multipart', base, '--x\r\n\r\n--x--', [UNSUPPORTED], withType('multipart/form-data; boundary=x'));
    post('xml', base, '<enroll/>', [UNSUPPORTED], withType('application/xml'));
    post('octet-stream', base, baseText, [UNSUPPORTED], withType('application/octet-stream'));
    post('no content-type', base, Buffer.from(baseText), [UNSUPPORTED], withType(null));
    for (const odd of [
      'text/json',
      'application/jsonx',
      'json',
      '*/*',
      '/;;;',
      'application/json; charset=utf-16',
    ])
      post(`content-type ${odd}`, base, '{}', [BAD_REQUEST, UNSUPPORTED], withType(odd));

    // 8. Empty and lying bodies.
    post('empty JSON body', base, '', [BAD_REQUEST]);
    post('whitespace JSON body', base, ' \n\t ', [BAD_REQUEST]);
    post('no body at all', base, undefined, [BAD_REQUEST], withType(null));
    post('empty text body', base, '', [BAD_REQUEST], withType('text/plain'));
    post('content-length shorter than the body', base, baseText, [BAD_REQUEST], {
      ...jsonHeaders(base.headers),
      'content-length': '2',
    });

    // 9. Size: the limit is inclusive, one byte more is 413 whatever the content.
    post('exactly the limit', base, padJson(limit), [BAD_REQUEST]);
    post('the limit + 1', base, padJson(limit + 1), [TOO_LARGE]);
    // A step result may be as large as an enumeration (16 MiB); the fixed sizes below are for 64 KiB.
    if (limit === V1_BODY_LIMIT) {
      const big = cloneJson(base.body) as Record<string, unknown>;
      const field = maps[0]!.freeStrings[0] ?? ['filler'];
      post('a valid body with one 70 KB string', base, encode(setAt(big, field, 'é'.repeat(35_000))), [
        TOO_LARGE,
      ]);
      post('1 MiB + 1 (the server-wide limit too)', base, padJson(1024 * 1024 + 1), [TOO_LARGE]);
      post('100 KB of invalid JSON', base, '{'.repeat(100_000), [TOO_LARGE]);
      post('100 KB of text/plain', base, 't'.repeat(100_000), [TOO_LARGE], withType('text/plain'));
      post('60 KB of nested arrays', base, `${'['.repeat(30_000)}${']'.repeat(30_000)}`, [BAD_REQUEST]);
      post('80 KB of nested arrays', base, `${'['.repeat(40_000)}${']'.repeat(40_000)}`, [TOO_LARGE]);
    }
    post('nested objects 10 000 deep', base, nested(10_000, 'object').text, [BAD_REQUEST]);
  }

  const agent = bearer(machines[0]!.agentKey);
  const validProgress = encode({ percent: 10, message: 'x' });
  const validResult = encode({ ok: true, result: {} });

  // Check-in bodies that pass the schema but are hostile: U+0000 cannot be stored by PostgreSQL.
  add({
    name: 'check-in: NUL in bootId',
    method: 'POST',
    url: '/v1/agent/check-in',
    headers: { ...agent, 'content-type': JSON_TYPE },
    payload: encode({ bootId: 'boot\u0000id', uptimeSeconds: 1, agentVersion: '0.1.0' }),
    expect: [BAD_REQUEST],
  });

  // The long-poll's `wait`: integers 0..120 only. (Values Ajv coerces to one — "1e2", "0x10", " 5" —
  // are valid and would long-poll, so they are not here.)
  const waits = [
    '',
    '-1',
    '121',
    '1.5',
    'abc',
    'NaN',
    'Infinity',
    '-Infinity',
    '1e400',
    'true',
    'null',
    '[]',
    '{}',
    '%00',
    '%zz',
    '99999999999999999999999',
    '-0.5',
    '5%00',
    '1,2',
    '5&wait=6',
    "1'%20or%20'1'='1",
    encodeURIComponent('🚀'),
    'x'.repeat(5000),
  ];
  for (let n = 0; n < 12; n++) {
    waits.push(
      String(rng.between(121, 2 ** 31)),
      String(-rng.between(1, 2 ** 31)),
      rng.string(rng.between(1, 12), 'abcdefghijklmnopqrstuvwyz'),
    );
  }
  for (const w of waits) {
    add({
      name: `poll wait=${w.slice(0, 30)}`,
      method: 'GET',
      url: `/v1/agent/tasks?wait=${w}`,
      headers: agent,
      expect: [BAD_REQUEST],
    });
  }
  for (const w of waits.slice(0, 5)) {
    add({
      name: `poll without a key, wait=${w}`,
      method: 'GET',
      url: `/v1/agent/tasks?wait=${w}`,
      headers: {},
      expect: [UNAUTHORIZED],
    });
  }

  // Task ids: anything but a uuid is 400; a uuid of no task of this machine is 404.
  const uuid = rng.uuid();
  const badIds = [
    '1',
    'null',
    'undefined',
    uuid.slice(1),
    `${uuid}0`,
    uuid.replace(/-/g, ''),
    `{${uuid}}`,
    uuid.replace(/[0-9a-f]$/, 'g'),
    `${uuid}%00`,
    `${uuid}%20`,
    '%00',
    '..%2F..%2Fenroll',
    `${uuid}'%20or%20'1'='1`,
    encodeURIComponent('🚀'.repeat(9)),
    'x'.repeat(2000),
  ];
  for (let n = 0; n < 6; n++)
    badIds.push(encodeURIComponent(rng.string(rng.between(1, 40), 'abcdef0123456789-_.~ :')));
  const unknownIds = [
    '00000000-0000-0000-0000-000000000000',
    'ffffffff-ffff-ffff-ffff-ffffffffffff',
    uuid.toUpperCase(),
  ];
  for (let n = 0; n < 5; n++) unknownIds.push(rng.uuid());
  for (const suffix of ['progress', 'result'] as const) {
    const payload = suffix === 'progress' ? validProgress : validResult;
    const task = (id: string, expect: Outcome[], name: string) =>
      add({
        name: `${suffix}: ${name}`,
        method: 'POST',
        url: `/v1/agent/tasks/${id}/${suffix}`,
        headers: { ...agent, 'content-type': JSON_TYPE },
        payload,
        expect,
      });
    for (const id of badIds)
      task(id, id.length > 1000 ? [URI_TOO_LONG] : [BAD_REQUEST], `task id ${id.slice(0, 40)}`);
    for (const id of unknownIds) task(id, [NOT_FOUND], `unknown task ${id}`);
    // Ajv's "uuid" format also admits an RFC 4122 URN; PostgreSQL's uuid type does not. Either
    // answer is fine (not a uuid we take: 400; the same uuid: 404), a 500 is not.
    task(`urn:uuid:${uuid}`, [BAD_REQUEST, NOT_FOUND], 'task id as a urn:uuid: URN');
    // A percent sign that is not an escape: the router cannot decode the id.
    task('%zz', [BAD_REQUEST], 'task id with a broken percent-escape');
    task(`${uuid}%`, [BAD_REQUEST], 'task id ending in a lone percent sign');
  }

  // Other methods and unknown paths under /v1.
  for (const [method, url] of [
    ['GET', '/v1/enroll'],
    ['PUT', '/v1/enroll'],
    ['DELETE', '/v1/agent/check-in'],
    ['GET', '/v1/agent/check-in'],
    ['PATCH', `/v1/agent/tasks/${uuid}/result`],
    ['POST', '/v1/agent/tasks'],
    ['POST', '/v1/openapi.json'],
    ['GET', `/v1/agent/tasks/${uuid}`],
    ['GET', '/v1/agent/nope'],
    ['POST', '/v1//enroll'],
    ['POST', '/v1/enroll/..%2Fagent%2Fcheck-in'],
    ['GET', '/v1/'],
  ] as [Method, string][]) {
    add({
      name: 'wrong method or path',
      method,
      url,
      headers: { ...agent, 'content-type': JSON_TYPE },
      payload: method === 'GET' ? undefined : '{}',
      expect: [NOT_FOUND],
    });
  }
  return cases;
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe('/v1 under fuzzing', () => {
  it('serves its OpenAPI document with every /v1 path', async () => {
    const res = await stack.app.inject('/v1/openapi.json');
    sent++;
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const doc = res.json<{ openapi: string; paths: Record<string, Record<string, unknown>> }>();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/v1/agent/check-in',
      '/v1/agent/tasks',
      '/v1/agent/tasks/{id}/progress',
      '/v1/agent/tasks/{id}/result',
      '/v1/enroll',
    ]);
    expect(Object.keys(doc.paths['/v1/agent/tasks']!)).toEqual(['get']);
    for (const p of [
      '/v1/enroll',
      '/v1/agent/check-in',
      '/v1/agent/tasks/{id}/progress',
      '/v1/agent/tasks/{id}/result',
    ])
      expect(Object.keys(doc.paths[p]!)).toEqual(['post']);
  });

  it('refuses a wrong enrollment key with 401 ENROLLMENT_REJECTED and writes nothing', async () => {
    const before = await snapshot();
    const rng = new Rng(SEED ^ 0x1);
    const hardware = hardwareFor(rng);
    const body = { ...enrollBody(rng, 'x'), hardware, machineUid: computeMachineUid(hardware) };
    const [, keyId, secret] = /^dek_([0-9a-f]{16})_(.{43})$/.exec(enrollmentKey.key)!;
    const wrong = `dek_${keyId}_${secret![0] === 'A' ? 'B' : 'A'}${secret!.slice(1)}`;
    const attempts: [string, Record<string, unknown>][] = [
      ['wrong secret', { ...body, enrollmentKey: wrong }],
      ['unknown key id', { ...body, enrollmentKey: `dek_${rng.hex(16)}_${secret}` }],
      ['garbage key', { ...body, enrollmentKey: 'hunter2' }],
      ['an agent key', { ...body, enrollmentKey: machines[0]!.agentKey }],
      // The right key for another site code: just as rejected.
      ['right key, other site', { ...body, enrollmentKey: enrollmentKey.key, siteCode: 'S-NOT-THIS-ONE' }],
    ];
    const answers = new Set<string>();
    for (const [name, payload] of attempts) {
      const c: Case = {
        name,
        method: 'POST',
        url: '/v1/enroll',
        headers: { 'content-type': JSON_TYPE },
        payload: encode(payload),
        expect: [REJECTED],
      };
      const a = await inject(c);
      expect(problemWith(c, a)).toBeNull();
      answers.add(a.body);
    }
    // Over the wire too, with the same bytes.
    const wire = await overHttp({
      name: 'wrong secret over HTTP',
      method: 'POST',
      url: '/v1/enroll',
      headers: { 'content-type': JSON_TYPE },
      payload: encode({ ...body, enrollmentKey: wrong }),
      expect: [REJECTED],
    });
    expect(wire.status).toBe(401);
    answers.add(wire.body);
    expect([...answers]).toEqual([
      JSON.stringify({
        error: {
          code: 'ENROLLMENT_REJECTED',
          message: 'enrollment rejected: check the site code and enrollment key',
        },
      }),
    ]);
    expect(await snapshot()).toEqual(before);
  });

  it('answers every malformed or wrong agent key on every agent route with the same 401 bytes', async () => {
    const before = await snapshot();
    const rng = new Rng(SEED ^ 0x2);
    const valid = machines[0]!.agentKey;
    const [, keyId, secret] = /^dak_([0-9a-f]{16})_(.{43})$/.exec(valid)!;
    const flipped = `dak_${keyId}_${secret![0] === 'A' ? 'B' : 'A'}${secret!.slice(1)}`;
    const headers: [string, string | null][] = [
      ['missing', null],
      ['empty', ''],
      ['just the scheme', 'Bearer'],
      ['scheme and space', 'Bearer '],
      ['lower-case scheme', `bearer ${valid}`],
      ['Basic', `Basic ${Buffer.from(`agent:${valid}`).toString('base64')}`],
      ['Token scheme', `Token ${valid}`],
      ['no scheme', valid],
      ['valid shape, wrong secret', `Bearer ${flipped}`],
      ['valid shape, unknown key id', `Bearer dak_${rng.hex(16)}_${secret}`],
      // (A key id of digits only has no upper case: then the same length with a letter in it.)
      [
        'upper-case key id',
        `Bearer dak_${/[a-f]/.test(keyId!) ? keyId!.toUpperCase() : `A${keyId!.slice(1)}`}_${secret}`,
      ],
      ['the enrollment key', `Bearer ${enrollmentKey.key}`],
      ['trailing character', `Bearer ${valid}x`],
      ['key twice', `Bearer ${valid} ${valid}`],
      ['key without its secret', `Bearer dak_${keyId}_`],
      ['very long (100 KB)', `Bearer ${'A'.repeat(100_000)}`],
      ['very long key-shaped', `Bearer dak_${keyId}_${secret}${'A'.repeat(5000)}`],
      ['SQL', `Bearer dak_${keyId}' or '1'='1`],
    ];
    for (let n = 0; n < 6; n++)
      headers.push([
        `random ${n}`,
        `Bearer ${rng.string(rng.between(1, 120), 'abcdefghijklmnopqrstuvwxyzABCDEF0123456789_-.~+/=')}`,
      ]);
    const id = rng.uuid();
    const routes: [Method, string, string | undefined][] = [
      ['POST', '/v1/agent/check-in', encode({ bootId: 'b', uptimeSeconds: 1, agentVersion: '0.1.0' })],
      ['GET', '/v1/agent/tasks?wait=0', undefined],
      ['GET', '/v1/agent/tasks?wait=abc', undefined],
      ['POST', `/v1/agent/tasks/${id}/progress`, encode({ percent: 1, message: 'm' })],
      ['POST', `/v1/agent/tasks/${id}/result`, encode({ ok: true, result: {} })],
      ['POST', '/v1/agent/tasks/not-a-uuid/result', '{"ok":'],
      ['POST', '/v1/agent/check-in', padJson(V1_BODY_LIMIT * 2)],
    ];
    const answers = new Map<string, string[]>();
    const problems: string[] = [];
    const record = (c: Case, a: Answer) => {
      const p = problemWith(c, a);
      if (p) problems.push(p);
      const key = `${a.status} ${a.contentType} ${a.body}`;
      answers.set(key, [...(answers.get(key) ?? []), c.name]);
    };
    for (const [name, value] of headers) {
      for (const [method, url, payload] of routes) {
        const h: Record<string, string> = payload === undefined ? {} : { 'content-type': JSON_TYPE };
        if (value !== null) h.authorization = value;
        const c: Case = {
          name: `${name} → ${method} ${url}`,
          method,
          url,
          headers: h,
          payload,
          expect: [UNAUTHORIZED],
        };
        record(c, await inject(c));
      }
    }
    // The same over the real port (headers below Node's 16 KiB header limit).
    for (const [name, value] of [
      ['missing', null],
      ['garbage', 'Bearer garbage'],
      ['wrong secret', `Bearer ${flipped}`],
      ['8 KB', `Bearer ${'A'.repeat(8000)}`],
    ] as [string, string | null][]) {
      const h: Record<string, string> = { 'content-type': JSON_TYPE };
      if (value !== null) h.authorization = value;
      const c: Case = {
        name: `HTTP ${name}`,
        method: 'POST',
        url: '/v1/agent/check-in',
        headers: h,
        payload: '{}',
        expect: [UNAUTHORIZED],
      };
      record(c, await overHttp(c));
    }
    expect(problems).toEqual([]);
    expect([...answers.keys()]).toEqual([
      `401 application/json; charset=utf-8 ${JSON.stringify({ error: { code: 'UNAUTHORIZED', message: 'agent key missing, unknown or revoked' } })}`,
    ]);

    // Beyond 16 KiB Node's HTTP parser refuses the request before any route runs (431, Fastify's
    // client-error body, outside the /v1 contract); the point here is that the server shrugs it off.
    sent++;
    const huge = await fetch(`${stack.apiUrl}/v1/agent/check-in`, {
      method: 'POST',
      headers: { authorization: `Bearer ${'A'.repeat(20_000)}`, 'content-type': JSON_TYPE },
      body: '{}',
    });
    await huge.text();
    expect(huge.status).toBe(431);
    expect(await snapshot()).toEqual(before);
    expect(await stillServing()).toEqual(SERVING);
  });

  it('answers hundreds of malformed, oversized and hostile requests with a 4xx and a stable code, writes nothing and stays up', async () => {
    const started = Date.now();
    const before = await snapshot();
    const rng = new Rng(SEED);
    const cases = buildCases(rng);
    const problems: string[] = [];
    for (const c of cases) {
      const p = problemWith(c, await inject(c));
      if (p) problems.push(p);
    }

    // A few over the real port: parser, size and media-type errors must look the same on the wire.
    const agent = bearer(machines[0]!.agentKey);
    const wire: Case[] = [
      {
        name: 'HTTP invalid JSON',
        method: 'POST',
        url: '/v1/enroll',
        headers: { 'content-type': JSON_TYPE },
        payload: '{"siteCode":',
        expect: [BAD_REQUEST],
      },
      {
        name: 'HTTP form',
        method: 'POST',
        url: '/v1/enroll',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'a=1',
        expect: [UNSUPPORTED],
      },
      {
        name: 'HTTP 100 KB with Content-Length',
        method: 'POST',
        url: '/v1/enroll',
        headers: { 'content-type': JSON_TYPE },
        payload: padJson(100_000),
        expect: [TOO_LARGE],
      },
      {
        name: 'HTTP check-in missing fields',
        method: 'POST',
        url: '/v1/agent/check-in',
        headers: { ...agent, 'content-type': JSON_TYPE },
        payload: '{"bootId":"b"}',
        expect: [BAD_REQUEST],
      },
      {
        // No result may exceed 16 MiB (an enumeration's ceiling); this one is refused unread.
        name: 'HTTP 16 MiB + 1 to result',
        method: 'POST',
        url: `/v1/agent/tasks/${rng.uuid()}/result`,
        headers: { ...agent, 'content-type': JSON_TYPE },
        payload: padJson(V1_RESULT_BODY_LIMIT + 1),
        expect: [TOO_LARGE],
      },
      {
        name: 'HTTP bad wait',
        method: 'GET',
        url: '/v1/agent/tasks?wait=-5',
        headers: agent,
        expect: [BAD_REQUEST],
      },
      {
        name: 'HTTP unknown task',
        method: 'POST',
        url: `/v1/agent/tasks/${rng.uuid()}/progress`,
        headers: { ...agent, 'content-type': JSON_TYPE },
        payload: '{"percent":1,"message":""}',
        expect: [NOT_FOUND],
      },
    ];
    for (const c of wire) {
      const p = problemWith(c, await overHttp(c));
      if (p) problems.push(p);
    }
    // Chunked (no Content-Length): the limit is enforced while reading.
    for (const size of [70_000, 3_000_000]) {
      let pushed = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (pushed >= size) return controller.close();
          pushed += 16_384;
          controller.enqueue(new TextEncoder().encode('z'.repeat(16_384)));
        },
      });
      const c: Case = {
        name: `HTTP chunked ${size} bytes`,
        method: 'POST',
        url: '/v1/enroll',
        headers: { 'content-type': JSON_TYPE },
        expect: [TOO_LARGE],
      };
      const p = problemWith(c, await overHttp(c, { body: stream, duplex: 'half' } as RequestInit));
      if (p) problems.push(p);
    }

    const rows = await snapshot();
    const serving = await stillServing();
    if (VERBOSE)
      console.log(`v1 fuzz: ${cases.length + wire.length + 2} cases in ${Date.now() - started} ms`);
    expect({ problems, rows, serving }).toEqual({ problems: [], rows: before, serving: SERVING });
    expect(cases.length).toBeGreaterThan(500);
    // Nothing leaked onto Object.prototype of this process (the API runs in it).
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses hostile but schema-shaped enrollments that carry the valid key, writing nothing', async () => {
    const before = await snapshot();
    const rng = new Rng(SEED ^ 0x3);
    const problems: string[] = [];
    const enrollWith = async (name: string, hardware: ReturnType<typeof hardwareFor>, extra: object = {}) => {
      // A real machine_uid for these facts: everything else about the request is right.
      const body = {
        ...enrollBody(rng, enrollmentKey.key, hardware),
        machineUid: computeMachineUid(hardware),
        ...extra,
      };
      const c: Case = {
        name,
        method: 'POST',
        url: '/v1/enroll',
        headers: { 'content-type': JSON_TYPE },
        payload: encode(body),
        expect: [BAD_REQUEST],
      };
      const p = problemWith(c, await inject(c));
      if (p) problems.push(p);
    };
    await enrollWith('NUL in hardware.manufacturer', {
      ...hardwareFor(rng),
      manufacturer: 'Fuzz\u0000Systems',
    });
    await enrollWith('NUL in hardware.machineGuid', {
      ...hardwareFor(rng),
      machineGuid: `${rng.uuid()}\u0000`,
    });
    await enrollWith('NUL in os.name', hardwareFor(rng), { os: { ...OS, name: 'Windows\u0000' } });
    await enrollWith('NUL in a label value', hardwareFor(rng), { labels: { rack: 'a\u0000' } });
    // labels keys must match ^[a-z][a-z0-9_]{0,31}$; the schema has no additionalProperties: false.
    await enrollWith('label key outside the key pattern, object value', hardwareFor(rng), {
      labels: { 'Not A Label': { nested: [1, 2, 3] } },
    });
    await enrollWith('NUL as a label key', hardwareFor(rng), { labels: { '\u0000': 'x' } });
    expect({ problems, rows: await snapshot() }).toEqual({ problems: [], rows: before });
  });

  it('refuses results for a real task from another machine, and NUL in a result for its own task', async () => {
    const me = machines[0]!;
    const owner = machines[1]!;
    const handle = await stack.temporal.workflow.start('collectInventory', {
      taskQueue: stack.taskQueue,
      workflowId: collectInventoryWorkflowId(owner.id, randomUUID()),
      args: [{ tenantId: stack.tenant.tenantId, machineId: owner.id }],
      typedSearchAttributes: [
        { key: TenantIdKey, value: stack.tenant.tenantId },
        { key: MachineIdKey, value: owner.id },
      ],
    });
    try {
      const admin = await stack.db.adminClient();
      let taskId: string | undefined;
      for (let i = 0; i < 100 && !taskId; i++) {
        const { rows } = await admin.query<{ id: string }>(
          'select id from agent_tasks where machine_id = $1',
          [owner.id],
        );
        taskId = rows[0]?.id;
        if (!taskId) await new Promise((r) => setTimeout(r, 100));
      }
      await admin.end();
      expect(taskId).toBeDefined();
      const before = await snapshot();
      const problems: string[] = [];
      const post = async (name: string, key: string, suffix: string, body: unknown, expect: Outcome[]) => {
        const c: Case = {
          name,
          method: 'POST',
          url: `/v1/agent/tasks/${taskId}/${suffix}`,
          headers: { ...bearer(key), 'content-type': JSON_TYPE },
          payload: encode(body),
          expect,
        };
        const p = problemWith(c, await inject(c));
        if (p) problems.push(p);
      };
      const done = { ok: true, result: { hostname: 'STOLEN' } };
      await post('another machine’s task: result', me.agentKey, 'result', done, [NOT_FOUND]);
      await post(
        'another machine’s task: failure',
        me.agentKey,
        'result',
        { ok: false, error: { type: 'X', message: 'm', retryable: false } },
        [NOT_FOUND],
      );
      await post('another machine’s task: progress', me.agentKey, 'progress', { percent: 5, message: 'm' }, [
        NOT_FOUND,
      ]);
      // Its own task, schema-valid bodies PostgreSQL cannot store (jsonb has no U+0000).
      await post(
        'NUL in a result value',
        owner.agentKey,
        'result',
        { ok: true, result: { hostname: 'a\u0000b' } },
        [BAD_REQUEST],
      );
      await post('NUL in a result key', owner.agentKey, 'result', { ok: true, result: { 'k\u0000': 1 } }, [
        BAD_REQUEST,
      ]);
      await post(
        'NUL in error.message',
        owner.agentKey,
        'result',
        { ok: false, error: { type: 'X', message: 'a\u0000b', retryable: false } },
        [BAD_REQUEST],
      );
      expect({ problems, rows: await snapshot() }).toEqual({ problems: [], rows: before });
      expect(await stillServing()).toEqual(SERVING);
    } finally {
      await handle.terminate('fuzz test done').catch(() => {});
    }
  });
});
