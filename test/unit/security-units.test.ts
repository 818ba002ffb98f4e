import { enrollmentSource } from '../../api/agent-channel/throttle';
import { csvField } from '../../api/graphql/types/machine';
import { RequestBudget } from '../../api/graphql/request-budget';
import { inspectBody, MAX_BODY_DEPTH } from '../../api/routes/v1';
import { checkApiUrl } from '../../agent/config';
import { Agent } from '../../agent/agent';
import { SimulatedPlatform } from '../../agent/platform/simulated/simulated-host';
import { StepKind } from '../../infra/wire/agent-steps';
import { checkStepResult, resultKinds } from '../../infra/wire/step-results';
import { defaultMaxConnections, RESERVED_FILES } from '../../infra/config/limits';
import { assertIdentitySafe } from '../../infra/config/safety';
import { loadEnv } from '../../infra/config/env';

describe('the enrollment guard counts sources, not addresses an attacker can rotate freely', () => {
  it.each([
    ['198.51.100.7', '198.51.100.7'],
    ['::ffff:198.51.100.7', '198.51.100.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2:ffff:ffff:ffff:1', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002::9', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
  ])('%s counts as %s', (ip, source) => {
    expect(enrollmentSource(ip)).toBe(source);
  });
});

describe('CSV fields', () => {
  it.each([
    ['SN-1', '"SN-1"'],
    ['=1+2', `"'=1+2"`],
    ['+cmd', `"'+cmd"`],
    ['-2', `"'-2"`],
    ['@SUM(A1)', `"'@SUM(A1)"`],
    ['a"b', '"a""b"'],
    ['a,b', '"a,b"'],
  ])('%s becomes %s', (value, field) => {
    expect(csvField(value)).toBe(field);
  });
});

describe('request budget', () => {
  it('lets a request spend up to its limit, then refuses with QUERY_TOO_EXPENSIVE', () => {
    const budget = new RequestBudget({ transactions: 3, workflowQueries: 1 });
    for (let i = 0; i < 3; i++) budget.spend('transactions');
    expect(() => budget.spend('transactions')).toThrow(
      expect.objectContaining({ extensions: { code: 'QUERY_TOO_EXPENSIVE' } }),
    );
    budget.spend('workflowQueries');
    expect(() => budget.spend('workflowQueries')).toThrow(/live run queries/);
  });
});

describe('body inspection on /v1', () => {
  it('finds a NUL at any depth it allows, in keys and values, and refuses deeper nesting', () => {
    expect(inspectBody({ a: [{ b: 'ok' }] })).toBeNull();
    expect(inspectBody({ a: [{ 'k\u0000': 1 }] })).toMatch(/NUL/);
    let deep: unknown = 'x\u0000';
    for (let i = 0; i < MAX_BODY_DEPTH - 1; i++) deep = { a: deep };
    expect(inspectBody(deep)).toMatch(/NUL/);
    let tooDeep: unknown = 1;
    for (let i = 0; i < 100_000; i++) tooDeep = [tooDeep];
    expect(inspectBody(tooDeep)).toMatch(/nests more than/);
  });
});

describe('step results the server accepts', () => {
  it('has a schema for every step kind the workflows dispatch', () => {
    expect(resultKinds().sort()).toEqual(Object.values(StepKind).sort());
  });

  it('accepts what the steps produce and refuses control characters, unknown fields and formula starts', () => {
    expect(checkStepResult(StepKind.Winget, { exitCode: 0, outcome: 'installed' })).toBeNull();
    expect(checkStepResult(StepKind.Winget, { exitCode: 0, outcome: 'a\nb' })).toMatch(/outcome/);
    expect(checkStepResult(StepKind.Winget, { exitCode: 0, outcome: 'x', admin: true })).not.toBeNull();
    expect(checkStepResult('no.such.kind', {})).toMatch(/no result schema/);
    const inventory = (autopilot: object) => ({
      hostname: 'PC-1',
      os: { name: 'Windows 11 Pro', version: '10.0.26100', build: '26100' },
      hardware: {},
      autopilot,
    });
    const hash = 'T0FnAAEAHAAAAAoAAA==';
    expect(
      checkStepResult(
        StepKind.Inventory,
        inventory({ serial: 'ABC 123', productId: null, hardwareHash: hash }),
      ),
    ).toBeNull();
    for (const bad of [
      { serial: '=cmd', productId: null, hardwareHash: hash },
      { serial: 'A,B', productId: null, hardwareHash: hash },
      { serial: 'A', productId: '-1', hardwareHash: hash },
      { serial: 'A', productId: null, hardwareHash: `+${hash}` },
      { serial: 'A', productId: null, hardwareHash: `${hash}\r\n` },
    ])
      expect(checkStepResult(StepKind.Inventory, inventory(bad))).not.toBeNull();
  });
});

describe('the agent talks to its API over https', () => {
  it.each([
    'https://drydock.example.com',
    'http://127.0.0.1:3000',
    'http://localhost:3000',
    'http://[::1]:3000',
  ])('accepts %s', (url) => {
    expect(checkApiUrl(url).href).toContain(new URL(url).host);
  });

  it.each(['http://drydock.example.com', 'http://10.0.0.5:3000', 'ftp://x', 'not a url'])(
    'refuses %s',
    (url) => {
      expect(() => checkApiUrl(url)).toThrow(/apiUrl/);
      expect(
        () =>
          new Agent({
            config: { apiUrl: url, siteCode: 'HQ-1', stateDir: '/nonexistent' },
            platform: {} as SimulatedPlatform,
          }),
      ).toThrow(/apiUrl/);
    },
  );
});

describe('safe defaults at start', () => {
  it('refuses a development API on a non-loopback address, and allows it in production', () => {
    expect(() => assertIdentitySafe(loadEnv({ API_HOST: '0.0.0.0' }))).toThrow(/not a loopback address/);
    expect(() => assertIdentitySafe(loadEnv({ API_HOST: '127.0.0.1' }))).not.toThrow();
    const production = {
      API_HOST: '0.0.0.0',
      DRYDOCK_ENV: 'production',
      OIDC_ISSUER: 'https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0',
      OIDC_CLIENT_ID: 'drydock',
      PUBLIC_URL: 'https://drydock.example.com',
    };
    expect(() => assertIdentitySafe(loadEnv(production))).not.toThrow();
    // Production without a real identity provider would be an API nobody can sign in to.
    expect(() => assertIdentitySafe(loadEnv({ ...production, OIDC_ISSUER: '' }))).toThrow(
      /invalid OIDC_ISSUER: required in production/,
    );
  });

  it('accepts no more connections than the open-file limit leaves', () => {
    expect(defaultMaxConnections(1024)).toBe(1024 - RESERVED_FILES);
    expect(defaultMaxConnections(100)).toBe(64);
    expect(defaultMaxConnections(null)).toBe(1000);
  });
});
