import { builder } from '../builder';

export const UndoValueFailureRef = builder
  .objectRef<{ key: string; message: string }>('UndoValueFailure')
  .implement({
    fields: (t) => ({
      key: t.exposeString('key', { description: 'registry:<path>\\<name> or action:<action>' }),
      message: t.exposeString('message'),
    }),
  });
