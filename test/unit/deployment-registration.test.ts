import { notRegisteredYet } from '../../infra/temporal/deployments';

/**
 * A deploy makes a new build current only once its workers have polled: until then the server
 * answers with one of these (the texts of go.temporal.io/server 1.29, service/worker/workerdeployment),
 * and the deploy waits and asks again. Anything else is a real refusal and must surface at once.
 */
describe('notRegisteredYet', () => {
  it.each([
    '9 FAILED_PRECONDITION: no Worker Deployment found with name drydock; does your Worker Deployment have pollers?',
    '5 NOT_FOUND: Worker Deployment Version not found',
    '5 NOT_FOUND: Version not found in deployment',
    // The new build polled some of its task queues, not yet all the current version serves.
    '9 FAILED_PRECONDITION: proposed current version is missing active task queues from the current version; these would become unversioned if it is set as the current version',
    '9 FAILED_PRECONDITION: proposed ramping version is missing active task queues from the current version; these would become unversioned if it is set as the ramping version',
  ])('waits on %s', (message) => {
    expect(notRegisteredYet(new Error(message))).toBe(true);
  });

  it.each([
    "9 FAILED_PRECONDITION: ManagerIdentity 'ops' is set and does not match user identity 'drydock deploy'; to proceed, set your own identity as the ManagerIdentity, remove the ManagerIdentity, or wait for the other client to do so",
    '7 PERMISSION_DENIED: Request unauthorized.',
    '3 INVALID_ARGUMENT: BuildId cannot be empty',
  ])('throws at once on %s', (message) => {
    expect(notRegisteredYet(new Error(message))).toBe(false);
  });
});
