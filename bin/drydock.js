#!/usr/bin/env node
'use strict';
// Drydock's command line. Needs the Node.js pinned in package.json: npm scripts and npx put
// node_modules/.bin (where npm's `node` package installs it) first on PATH.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `drydock: needs Node.js 24 or newer, this is ${process.version}. Run it as \`npx drydock\` or through ` +
      '`npm start` / `npm test`, which use the Node pinned in package.json (run `npm install` first).\n',
  );
  process.exit(1);
}
require('tsx/cjs');
require('../cli/main.ts').main(process.argv);
