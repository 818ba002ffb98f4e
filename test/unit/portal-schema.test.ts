import { readFileSync } from 'node:fs';
import path from 'node:path';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { schema } from '../../api/graphql/schema';

/**
 * The portal's generated types (portal/src/gql, ADR 0034) come from portal/schema.graphql: it must be
 * the schema the API serves, or the types lie. `npm run portal:codegen` brings both up to date.
 */
test('portal/schema.graphql is the API schema (else run npm run portal:codegen)', () => {
  const committed = readFileSync(path.join(__dirname, '../../portal/schema.graphql'), 'utf8');
  expect(committed.trim()).toBe(printSchema(lexicographicSortSchema(schema)).trim());
});
