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
  }),
});
