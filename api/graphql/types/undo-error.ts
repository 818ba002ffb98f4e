import { builder } from '../builder';

export const UndoErrorRef = builder.objectRef<{ type: string; message: string }>('UndoError').implement({
  fields: (t) => ({
    type: t.exposeString('type', { description: 'Failure class, e.g. UndoIncomplete, MachineOffline.' }),
    message: t.exposeString('message'),
  }),
});
