import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { schema } from '../../api/graphql/schema';

/** Prints the API's schema (from the Pothos builder) to portal/schema.graphql for GraphQL Code Generator. */
const out = join(__dirname, '..', 'schema.graphql');
writeFileSync(out, printSchema(lexicographicSortSchema(schema)) + '\n');
