import { builder } from '../builder';

export const ValidationItemRef = builder
  .objectRef<{ item: string; pass: boolean; detail: string }>('ValidationItem')
  .implement({
    fields: (t) => ({
      item: t.exposeString('item'),
      result: t.string({ description: 'PASS or FAIL', resolve: (i) => (i.pass ? 'PASS' : 'FAIL') }),
      detail: t.exposeString('detail'),
    }),
  });
