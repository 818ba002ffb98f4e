import { failureText } from '../../services/failures';
import { builder } from '../builder';

export const UndoErrorRef = builder.objectRef<{ type: string; message: string }>('UndoError').implement({
  fields: (t) => ({
    type: t.exposeString('type', { description: 'Failure class, e.g. UndoIncomplete, MachineOffline.' }),
    message: t.exposeString('message'),
    code: t.string({
      description: 'The failure type’s stable code; UNKNOWN_FAILURE for a type this server does not know.',
      resolve: (e) => failureText(e.type).code,
    }),
    sentence: t.string({
      description: 'What happened and what to do, in one sentence the portal can show.',
      resolve: (e) => failureText(e.type).sentence,
    }),
  }),
});
