import { failureText } from '../../services/failures';
import { builder } from '../builder';

/** Why a provisioning run failed, as its row records it. */
export interface RunErrorShape {
  type: string;
  message: string;
  step?: string;
}

export const RunErrorRef = builder.objectRef<RunErrorShape>('RunError').implement({
  fields: (t) => ({
    type: t.exposeString('type', { description: 'Failure class, e.g. InstallerHashMismatch.' }),
    message: t.exposeString('message', {
      description: 'The details: which check, which exit code, which path.',
    }),
    step: t.string({ nullable: true, resolve: (e) => e.step ?? null }),
    code: t.string({
      description:
        'The failure type’s stable code (e.g. INSTALLER_HASH_MISMATCH); UNKNOWN_FAILURE for a type this server does not know.',
      resolve: (e) => failureText(e.type).code,
    }),
    sentence: t.string({
      description: 'What happened and what to do, in one sentence the portal can show.',
      resolve: (e) => failureText(e.type).sentence,
    }),
  }),
});
