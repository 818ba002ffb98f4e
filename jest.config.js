/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.(ts|js)$': [
      '@swc/jest',
      { jsc: { parser: { syntax: 'typescript' }, target: 'es2023' }, module: { type: 'commonjs' } },
    ],
  },
  // ESM-only packages the API pulls in (light-my-request → cookie; openid-client → oauth4webapi,
  // jose; @fastify/static and its content-disposition) are compiled to CommonJS for Jest.
  transformIgnorePatterns: [
    '/node_modules/(?!(cookie|proxy|openid-client|oauth4webapi|jose|@fastify/static|content-disposition)/)',
  ],
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // test/production needs the production Temporal server (built from Go modules) and runs only in
  // `npm run test:production` (DRYDOCK_TEST_TEMPORAL=production), which names it.
  testPathIgnorePatterns:
    process.env.DRYDOCK_TEST_TEMPORAL === 'production'
      ? ['/node_modules/']
      : ['/node_modules/', '/test/production/'],
  // One Temporal dev server and one migrated template database for the whole run (docs/adr/0004).
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  testTimeout: 60_000,
  // `npm test` runs the dev-server suite with 3 (its files wait on timers and Temporal more than they
  // compute: 1,072 s against 1,196 s with 2 on two cores, all green); test:production keeps 2.
  maxWorkers: 2,
  // A fresh worker process for every test file: a file that ran workflows in its own thread (the
  // replay test) leaves Temporal's V8 promise hooks installed in the process, and they then throw
  // on the WebCrypto promises of a later file (seen on CI: the escrow unit test). Any worker is over 1 MB
  // once idle, so each file gets a new one (a number ≤ 1 would be a share of memory: never). ~1 s a file.
  workerIdleMemoryLimit: '1MB',
};
