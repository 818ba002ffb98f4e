import { StepFailure } from '../../infra/wire/agent-steps';
import { DeploymentFailure } from '../../workflows/deployment/contracts';
import { AgentChannelFailure } from '../../workflows/machines/contracts';
import { MigrationFailure } from '../../workflows/migration/contracts';
import { ProvisioningFailure, RunFailure } from '../../workflows/provisioning/contracts';
import { SiteFailure } from '../../workflows/sites/contracts';
import { UndoFailure } from '../../workflows/tweaks/contracts';
import { ErrorCode } from './errors';

/** Every failure type a run or a workflow can end with, from each domain's contracts. */
export const failureEnums = {
  StepFailure,
  RunFailure,
  ProvisioningFailure,
  AgentChannelFailure,
  UndoFailure,
  SiteFailure,
  MigrationFailure,
  DeploymentFailure,
} as const;

export type FailureType =
  | `${StepFailure}`
  | `${RunFailure}`
  | `${ProvisioningFailure}`
  | `${AgentChannelFailure}`
  | `${UndoFailure}`
  | `${SiteFailure}`
  | `${MigrationFailure}`
  | `${DeploymentFailure}`;

/**
 * What the portal shows for a failure: a stable code (never renamed; a new type gets a new one) and
 * one sentence for an operator — what happened and what to do. The message beside it carries the
 * details (which check, which exit code, which path).
 */
export interface FailureText {
  code: string;
  sentence: string;
}

/**
 * The one table: every failure type of every domain (a type name shared by two domains means the
 * same there, and has one entry). TypeScript refuses a type left out; a unit test checks it again
 * at run time, with the codes' shape and uniqueness.
 */
export const failureTexts: Record<FailureType, FailureText> = {
  // A step's own failure, as the agent reports it (infra/wire/agent-steps.ts).
  MigrationPreconditionFailed: {
    code: 'MIGRATION_PRECONDITION_FAILED',
    sentence:
      'The machine does not meet a precondition of the migration that waiting cannot change: the message lists each; nothing was changed.',
  },
  MigrationSignOutTimeout: {
    code: 'MIGRATION_SIGN_OUT_TIMEOUT',
    sentence:
      'The user stayed signed in past the deadline although asked to sign out: nothing was changed; start it again at a better time.',
  },
  MigrationVerifyFailed: {
    code: 'MIGRATION_VERIFY_FAILED',
    sentence:
      'The migrated profile did not pass verification, so it was put back from the backup: the message lists what failed.',
  },
  MigrationRollbackFailed: {
    code: 'MIGRATION_ROLLBACK_FAILED',
    sentence:
      'The migration failed and putting the profile back failed too: the backup is still on the machine; an engineer must restore it.',
  },
  MigrationDecisionRejected: {
    code: 'MIGRATION_ROLLED_BACK_BY_OPERATOR',
    sentence:
      'An operator chose to roll the migration back after verification: the profile is as it was before.',
  },
  MigrationFailed: {
    code: 'MIGRATION_FAILED',
    sentence:
      'A migration step failed on the machine; the run put the profile back from its backup: the message says which step and why.',
  },
  BackupMismatch: {
    code: 'MIGRATION_BACKUP_MISMATCH',
    sentence:
      'The migration backup on the machine is missing or changed: nothing more was done; an engineer must look at the machine.',
  },
  PreflightFailed: {
    code: 'PREFLIGHT_FAILED',
    sentence: 'The machine is not ready to be provisioned: the message lists each check that failed.',
  },
  NameTaken: {
    code: 'NAME_TAKEN',
    sentence:
      'Another machine of the site already has this name: change the name template, then retry with a refreshed profile.',
  },
  WingetFailed: {
    code: 'WINGET_FAILED',
    sentence: 'winget could not install the app: the message gives its exit code and last line of output.',
  },
  WingetPackageNotFound: {
    code: 'WINGET_PACKAGE_NOT_FOUND',
    sentence: 'The package id is not in the winget source: fix it in the profile, then retry.',
  },
  InstallerHashMismatch: {
    code: 'INSTALLER_HASH_MISMATCH',
    sentence:
      'The downloaded installer is not the file the profile pins, so nothing was run: fix the pin or the URL, then retry with a refreshed profile.',
  },
  InstallerDownloadFailed: {
    code: 'INSTALLER_DOWNLOAD_FAILED',
    sentence: 'The machine could not download the installer over HTTPS: check the URL and its network.',
  },
  InstallerFailed: {
    code: 'INSTALLER_FAILED',
    sentence: 'The installer ran and failed: check its arguments against the exit code in the message.',
  },
  SettingFailed: {
    code: 'SETTING_FAILED',
    sentence: 'A setting could not be written, possibly only for a moment: retry the step.',
  },
  WingetUnavailable: {
    code: 'WINGET_UNAVAILABLE',
    sentence:
      'winget cannot run as SYSTEM on this machine (missing, too old, unsigned or not starting): the message says which.',
  },
  RebootRequiredFirst: {
    code: 'REBOOT_REQUIRED_FIRST',
    sentence: 'The app needs a restart before it installs: the run restarts the machine and tries again.',
  },
  RenameNeedsDomainCredential: {
    code: 'RENAME_NEEDS_DOMAIN_CREDENTIAL',
    sentence:
      'The machine is joined to a domain, so renaming it needs a domain credential: rename it in Active Directory or turn the identity phase off for it.',
  },
  CredentialUnavailable: {
    code: 'CREDENTIAL_UNAVAILABLE',
    sentence:
      "The task needs the site's domain credential, which only an approved gateway of that site may use: approve a gateway for the site, or run the task there.",
  },
  NotAGateway: {
    code: 'NOT_A_GATEWAY',
    sentence:
      "Only the site's approved gateway does the site's directory work: give a machine of the site the gateway role.",
  },
  DirectoryAuthFailed: {
    code: 'DIRECTORY_AUTH_FAILED',
    sentence:
      'The domain controller refused the domain credential (invalid user name or password, or the account is locked or disabled): enter it again.',
  },
  DirectoryTlsFailed: {
    code: 'DIRECTORY_TLS_FAILED',
    sentence:
      "The domain controller's certificate is not trusted or does not match the pin: add the domain's CA certificate, or check the fingerprint.",
  },
  DirectoryUnreachable: {
    code: 'DIRECTORY_UNREACHABLE',
    sentence:
      'The gateway could not reach the domain controller over LDAP (636, or 389 with StartTLS) in time.',
  },
  DirectoryProtocolError: {
    code: 'DIRECTORY_PROTOCOL_ERROR',
    sentence: 'The domain controller answered with something the gateway cannot use.',
  },
  DeployNoGateway: {
    code: 'DEPLOY_NO_GATEWAY',
    sentence:
      'The site has no active gateway to push the agent from: give an enrolled machine of the site the gateway role.',
  },
  DeployNoCredential: {
    code: 'DEPLOY_NO_CREDENTIAL',
    sentence:
      'The site has no accepted domain credential to reach its hosts with: enter one (docs/onboarding.md step 4).',
  },
  DeployNoInstaller: {
    code: 'DEPLOY_NO_INSTALLER',
    sentence:
      "The site has no MSI for its current enrollment key: build the site's installers, then deploy again.",
  },
  DeployHostNotFound: {
    code: 'DEPLOY_HOST_NOT_FOUND',
    sentence:
      "The host is not one of the site's discovered hosts, or it was linked to another machine meanwhile.",
  },
  DeployEnrollmentTimeout: {
    code: 'DEPLOY_ENROLLMENT_TIMEOUT',
    sentence:
      'The agent was installed and its service runs, but the host did not enroll in time: check that it reaches the API (proxy, firewall, DNS) and its agent log.',
  },
  JoinAuthFailed: {
    code: 'JOIN_AUTH_FAILED',
    sentence:
      "The domain refused the site's join credential (wrong user name or password, a locked account, or no right to create computers in the OU): fix the credential or its delegation, then retry.",
  },
  JoinOuNotFound: {
    code: 'JOIN_OU_NOT_FOUND',
    sentence:
      'The OU the profile names does not exist in the domain: correct the profile’s join OU, then retry with a refreshed profile.',
  },
  JoinDomainUnreachable: {
    code: 'JOIN_DOMAIN_UNREACHABLE',
    sentence:
      'The machine could not find or reach a domain controller of the domain: check its DNS servers and network, then retry.',
  },
  JoinedToAnotherDomain: {
    code: 'JOINED_TO_ANOTHER_DOMAIN',
    sentence:
      'The machine is a member of another domain and Drydock does not unjoin machines: remove it from that domain first, then retry.',
  },
  JoinFailed: {
    code: 'JOIN_FAILED',
    sentence:
      'Windows could not join the machine to the domain (its reason is in the message): fix it, then retry.',
  },
  JoinNotVerified: {
    code: 'JOIN_NOT_VERIFIED',
    sentence:
      'After the restart the machine is not joined as the profile asks (domain, OU or name differ): check it in AD, then retry.',
  },
  EntraJoinFailed: {
    code: 'ENTRA_JOIN_FAILED',
    sentence:
      'The machine is not Entra joined: the provisioning package failed or its bulk token expired, or Autopilot has not pre-provisioned it at OOBE.',
  },
  ProvisioningPackageUnavailable: {
    code: 'PROVISIONING_PACKAGE_UNAVAILABLE',
    sentence:
      'The provisioning package could not be downloaded or is not the one the profile pins by SHA-256: check its URL and digest.',
  },
  JoinCredentialMissing: {
    code: 'JOIN_CREDENTIAL_MISSING',
    sentence:
      'The profile joins a domain with a join credential the machine’s site does not have: store a join credential for the site, then retry.',
  },
  WinRmAuthFailed: {
    code: 'WINRM_AUTH_FAILED',
    sentence:
      "The host refused the site's domain credential over WinRM (wrong user name or password, or the account is not an administrator there): check the credential and the host's local Administrators group.",
  },
  WinRmUnreachable: {
    code: 'WINRM_UNREACHABLE',
    sentence:
      "The gateway could not reach the host's WinRM listener (5985 or 5986): the host is off, a firewall blocks it, or WinRM is not enabled (winrm quickconfig or the GPO).",
  },
  WinRmTlsFailed: {
    code: 'WINRM_TLS_FAILED',
    sentence:
      "TLS to the host's WinRM HTTPS listener failed: its certificate is not trusted or does not match the pin.",
  },
  WinRmTimeout: {
    code: 'WINRM_TIMEOUT',
    sentence: 'The host did not answer over WinRM, or the command did not finish, in time.',
  },
  WinRmProtocolError: {
    code: 'WINRM_PROTOCOL_ERROR',
    sentence:
      "The host's WinRM listener answered with a WS-Management fault or something the gateway cannot use: the message has its text.",
  },
  AgentDownloadFailed: {
    code: 'AGENT_DOWNLOAD_FAILED',
    sentence:
      "The host could not download the agent's installer from Drydock: check that it can reach the API's address (proxy, firewall, DNS).",
  },
  AgentHashMismatch: {
    code: 'AGENT_HASH_MISMATCH',
    sentence:
      "The installer the host downloaded is not the site's installer (its SHA-256 differs): nothing was run. Something between the host and Drydock changed it.",
  },
  AgentInstallFailed: {
    code: 'AGENT_INSTALL_FAILED',
    sentence:
      'The Windows Installer on the host failed (msiexec 1603 and the like): the message has the exit code; the log is in the host’s Windows Temp folder.',
  },
  AgentInstallBusy: {
    code: 'AGENT_INSTALL_BUSY',
    sentence: 'Another installation was running on the host (msiexec 1618): it is tried again.',
  },
  AgentServiceNotRunning: {
    code: 'AGENT_SERVICE_NOT_RUNNING',
    sentence:
      'The agent was installed but its DrydockAgent service is not running on the host: see the Windows event log there.',
  },
  InstallerLinkUnavailable: {
    code: 'INSTALLER_LINK_UNAVAILABLE',
    sentence:
      'The gateway had no installer link for the step (it resumed it after a restart): a new attempt is made with a new link.',
  },
  WindowsError: {
    code: 'WINDOWS_ERROR',
    sentence:
      'Windows refused the change for good (access denied or an invalid argument): the message is Windows’ own text.',
  },
  UnknownStep: {
    code: 'UNKNOWN_STEP',
    sentence: 'The machine’s agent does not know this step: update the agent, then retry.',
  },
  InvalidPayload: {
    code: 'INVALID_PAYLOAD',
    sentence:
      'The machine’s agent cannot take this step as sent (it is older than the server), so nothing ran: update the agent, then retry.',
  },
  StepCrashed: {
    code: 'STEP_CRASHED',
    sentence: 'The step failed unexpectedly on the machine: the message says what went wrong.',
  },

  // How a run ended besides a step's failure (workflows/provisioning, workflows/tweaks).
  RunClosed: {
    code: 'RUN_CLOSED',
    sentence:
      'The run was ended in Temporal, outside Drydock, and will not go on: start a new one for this machine.',
  },
  RunNotStarted: {
    code: 'RUN_NOT_STARTED',
    sentence: 'The run never started (its start was interrupted): start a new one for this machine.',
  },
  ValidationFailed: {
    code: 'VALIDATION_FAILED',
    sentence:
      'Validation found the machine not as the profile asks: fix each FAIL item, then retry from the step responsible.',
  },
  MachineOffline: {
    code: 'MACHINE_OFFLINE',
    sentence:
      'The machine did not come back from a restart within the offline limit: bring it online, then try again.',
  },
  MachineUnreachable: {
    code: 'MACHINE_UNREACHABLE',
    sentence:
      'The machine did not pick up or finish its work within its limits: bring it online, then try again.',
  },
  RetryFailed: {
    code: 'RETRY_FAILED',
    sentence:
      'The retry could not start: the refreshed profile is still invalid (the message lists each error).',
  },
  UndoIncomplete: {
    code: 'UNDO_INCOMPLETE',
    sentence:
      'Some values were not put back (each is listed with Windows’ reason); a new undo tries them again.',
  },

  // Preparing a run (activities/provisioning).
  ProfileNotFound: {
    code: 'PROFILE_NOT_FOUND',
    sentence: 'The run’s profile no longer exists: start a new run with another profile.',
  },
  MachineNotFound: {
    code: 'MACHINE_NOT_FOUND',
    sentence: 'The machine no longer exists in Drydock.',
  },
  FleetRunNotFound: {
    code: 'FLEET_RUN_NOT_FOUND',
    sentence: 'The fleet run this machine belongs to no longer exists.',
  },
  EscrowKeyMissing: {
    code: ErrorCode.EscrowKeyMissing,
    sentence:
      'The profile escrows the local admin password, but escrow is not set up for the tenant: an admin sets up the escrow key first.',
  },
  InvalidProfile: {
    code: ErrorCode.InvalidProfile,
    sentence:
      'The profile and its layers together are invalid (the message lists each path): fix them, then retry with a refreshed profile.',
  },
  InvalidName: {
    code: 'INVALID_NAME',
    sentence:
      'The name template makes a name Windows cannot use (all digits, or a dash at either end): change it, then retry with a refreshed profile.',
  },
  NoFreeName: {
    code: 'NO_FREE_NAME',
    sentence:
      'Every name the template can make is taken in this site: change the template, then retry with a refreshed profile.',
  },

  // The agent channel (activities/agent-channel).
  MachineNotActive: {
    code: 'MACHINE_NOT_ACTIVE',
    sentence:
      'The machine is not active (waiting for approval, or retired): approve it before running anything.',
  },
  TaskAbandoned: {
    code: 'TASK_ABANDONED',
    sentence: 'The step was withdrawn because its run ended; the machine will never run it.',
  },
  ResultInvalid: {
    code: 'RESULT_INVALID',
    sentence:
      'The result stored for this step is not one the step can produce (stored by an older server, or altered): retry from the step.',
  },
  TaskKeyConflict: {
    code: 'TASK_KEY_CONFLICT',
    sentence:
      'Drydock found two different steps under one key and stopped rather than guess: report this as a bug.',
  },

  // Creating a site (workflows/sites): these are also the createSite mutation's error codes.
  ClientNotFound: { code: ErrorCode.ClientNotFound, sentence: 'The client does not exist.' },
  SiteCodeTaken: {
    code: ErrorCode.SiteCodeTaken,
    sentence: 'Another site of this tenant already has this code: choose another.',
  },
  InvalidSite: { code: ErrorCode.BadUserInput, sentence: 'The site’s code or name is not valid.' },

  // Escrow (issue 16, ADR 0044).
  EscrowPendingLost: {
    code: 'ESCROW_PENDING_LOST',
    sentence:
      'The agent no longer held the escrowed password (it restarted): nothing was changed, and a new version is escrowed.',
  },
  EscrowRefused: {
    code: 'ESCROW_REFUSED',
    sentence:
      'The machine’s escrow upload did not match its task (tenant key, machine, kind or version): nothing was stored.',
  },
};

/** A type no table entry knows (an agent newer than the server, an unexpected error's name). */
export const UNKNOWN_FAILURE: FailureText = {
  code: 'UNKNOWN_FAILURE',
  sentence: 'The run failed for a reason Drydock does not know: the message says what happened.',
};

export function isKnownFailure(type: string): type is FailureType {
  return Object.hasOwn(failureTexts, type);
}

/** The code and sentence of a failure type; UNKNOWN_FAILURE for one no domain declares. */
export function failureText(type: string): FailureText {
  return isKnownFailure(type) ? failureTexts[type] : UNKNOWN_FAILURE;
}
