import { builder } from '../builder';

/** What an operator asks of a running fleet run or machine run. */
export const RunControlEnum = builder.enumType('RunControl', {
  values: ['PAUSE', 'RESUME', 'CANCEL'] as const,
});
