import { addUser, listUsers, removeUser, updateUserAccess, type UserAccess } from '../../services/users';
import { builder } from '../builder';

export const UserAccessRef = builder.objectRef<UserAccess>('User').implement({
  description: 'A person of the tenant and their access.',
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.exposeString('email'),
    name: t.exposeString('name'),
    role: t.exposeString('role', { description: 'viewer, operator, engineer or admin' }),
    canRevealSecrets: t.exposeBoolean('canRevealSecrets'),
    clientIds: t.exposeIDList('clientIds', { nullable: true, description: 'Null = every client.' }),
    signedIn: t.exposeBoolean('signedIn', { description: 'Whether they have signed in yet.' }),
    createdAt: t.field({ type: 'DateTime', resolve: (u) => u.createdAt }),
  }),
});

builder.queryField('users', (t) =>
  t.field({
    type: [UserAccessRef],
    description: 'The tenant’s users (admin).',
    resolve: (_r, _a, ctx) => listUsers(ctx),
  }),
);

const AddUserInput = builder.inputType('AddUserInput', {
  fields: (t) => ({
    email: t.string({ required: true }),
    name: t.string(),
    role: t.string({ required: true }),
    canRevealSecrets: t.boolean(),
    clientIds: t.idList({ description: 'Limit the user to these clients; omitted = every client.' }),
  }),
});

const UserAccessInput = builder.inputType('UserAccessInput', {
  fields: (t) => ({
    userId: t.id({ required: true }),
    role: t.string({ required: true }),
    canRevealSecrets: t.boolean(),
    clientIds: t.idList(),
  }),
});

builder.mutationField('addUser', (t) =>
  t.field({
    type: UserAccessRef,
    description:
      'Adds a person by e-mail (admin); bound to their identity-provider account at first sign-in.',
    args: { input: t.arg({ type: AddUserInput, required: true }) },
    resolve: (_r, { input }, ctx) => addUser(ctx, input),
  }),
);

builder.mutationField('updateUserAccess', (t) =>
  t.field({
    type: UserAccessRef,
    description: 'Sets a user’s role, reveal-secrets and client scope (admin; not your own).',
    args: { input: t.arg({ type: UserAccessInput, required: true }) },
    resolve: (_r, { input }, ctx) => updateUserAccess(ctx, input),
  }),
);

builder.mutationField('removeUser', (t) =>
  t.field({
    type: 'Boolean',
    description: 'Takes a user’s access away and signs them out everywhere (admin; not yourself).',
    args: { userId: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => removeUser(ctx, args),
  }),
);
