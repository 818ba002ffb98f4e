import type { StepPayloads } from './step-payloads';
import type { StepResults } from './step-results';

/**
 * The provisioning steps an agent runs: task kinds, their payloads and their results. Shared by
 * the workflows (which dispatch them), the agent (which runs them) and the tests. Payloads carry
 * settings only, never secrets: they are recorded in workflow histories and in agent_tasks.
 *
 * One map per direction, keyed by kind: `StepPayloads[K]` is what a step of kind K takes (a plan
 * step, a dispatch, the agent's handler), `StepResults[K]` what it gives back. Both are the
 * `Static` types of the TypeBox schemas the two ends check them with — payloads on the agent
 * (`step-payloads.ts`), results on the server (`step-results.ts`) — so types and checks cannot
 * drift. This module holds only enums and types: workflows import it.
 */
export enum StepKind {
  Preflight = 'preflight.check',
  Rename = 'identity.rename',
  Winget = 'apps.winget',
  Installer = 'apps.installer',
  Tweaks = 'tweaks.apply',
  /** Restores the values the tweaks step recorded before changing them (undoTweaks). */
  TweaksUndo = 'tweaks.undo',
  /** Finds winget for SYSTEM, checks its signature and version, and that it starts (before the winget steps). */
  WingetReady = 'apps.winget-ready',
  Locale = 'locale.apply',
  Wifi = 'wifi.apply',
  Inventory = 'inventory.collect',
  Validate = 'validation.verify',
  Reboot = 'system.reboot',
  BootId = 'system.boot-id',
  // Profile migration (issue 17, ADR 0036): one per saga step, plus the compensation.
  ProfileCheck = 'profile.check',
  ProfileNotify = 'profile.notify',
  ProfileBackup = 'profile.backup',
  ProfileReassign = 'profile.reassign',
  ProfileCopy = 'profile.copy',
  ProfileCloud = 'profile.cloud',
  ProfileRepair = 'profile.repair',
  ProfileVerify = 'profile.verify',
  /** Puts back what the backup recorded (the saga's compensation). */
  ProfileRestore = 'profile.restore',
  /** Disables or deletes the old account: irreversible, after an operator's approval. */
  ProfileRetire = 'profile.retire',
  // Site onboarding (issue 15, ADR 0029): run by the site's gateway only (the API refuses them to any other machine).
  /** Finds the AD domain from the gateway's DNS resolvers and search suffixes: no credential. */
  DirectoryDiscover = 'directory.discover',
  /** Binds with the site's domain credential (resolved into the claim by `credentialRef`) and unbinds. */
  DirectoryTestBind = 'directory.test-bind',
  /** Lists every computer of the domain by a paged LDAP search with the site's domain credential. */
  DirectoryEnumerate = 'directory.enumerate',
  // Escrow (issue 16, ADR 0044): escrow before change, in two tasks.
  /** Makes a random local admin password in agent memory and returns it sealed to the tenant key: nothing changes yet. */
  LocalAdminEscrow = 'security.local-admin',
  /** After the server stored that envelope: sets the password the agent holds for it (never one it no longer holds). */
  LocalAdminApply = 'security.local-admin-apply',
  /** Makes a BitLocker recovery password in agent memory and returns it sealed: the volume is not touched yet. */
  BitLockerEscrow = 'security.bitlocker',
  /**
   * After the server stored that envelope: adds it as a recovery-password protector, removes the
   * volume's other recovery passwords (a rotation), and only then starts encryption with the TPM
   * protector if the volume is not encrypted yet. Reports the encryption status.
   */
  BitLockerApply = 'security.bitlocker-apply',
  // Agent push over WinRM (issue 15, ADR 0043): run by the site's gateway against a discovered host.
  /** Whether the host's WinRM listener ports (5985 HTTP, 5986 HTTPS) accept a TCP connection: no credential. */
  WinRmProbe = 'winrm.probe',
  /**
   * Installs the site's agent on the host over WinRM with the site's domain credential: the host
   * downloads the MSI from a one-time URL (minted into the gateway's claim), checks its SHA-256,
   * runs msiexec, and the service is verified. Check-before-act: a running service is `alreadyDone`.
   */
  WinRmInstall = 'winrm.install',
  // Join (issue 16, ADR 0048): the profile's join phase.
  /**
   * Joins the machine to an AD domain with the site's join credential (resolved into this machine's
   * claim by `credentialRef`, memory only), into the profile's OU, folding a pending rename in
   * (`-NewName`). Check-before-act: a member of that domain is `alreadyDone`; of another, a
   * permanent failure. Asks for a restart; `join.verify` reads the result after it.
   */
  JoinDomain = 'join.domain',
  /**
   * Entra join: applies a provisioning package (bulk enrollment token inside, SHA-256 pinned), or
   * for Autopilot only checks and reports (pre-provisioning happens at OOBE, not from an agent).
   */
  JoinEntra = 'join.entra',
  /** After the join's restart: PartOfDomain/Domain (Win32_ComputerSystem), the computer's OU, dsregcmd's AzureAdJoined. */
  JoinVerify = 'join.verify',
}

/** The escrow steps (seal, then apply), with what each escrows (infra/wire/escrow-envelope.ts kinds). */
export const ESCROW_STEP_KINDS = {
  'security.local-admin': 'local-admin-password',
  'security.bitlocker': 'bitlocker-recovery-password',
} as const;
export type EscrowStepKind = StepKind.LocalAdminEscrow | StepKind.BitLockerEscrow;
export const isEscrowStepKind = (kind: string | null): kind is EscrowStepKind =>
  !!kind && kind in ESCROW_STEP_KINDS;

/** A BitLocker recovery password as Windows shows it: 8 groups of 6 digits joined by dashes. */
export const BITLOCKER_RECOVERY_PASSWORD_LENGTH = 55;

/** The kinds only an active gateway of the task's site may run (ADR 0026, 0029). */
export const GATEWAY_STEP_KINDS: readonly string[] = [
  StepKind.DirectoryDiscover,
  StepKind.DirectoryTestBind,
  StepKind.DirectoryEnumerate,
  StepKind.WinRmProbe,
  StepKind.WinRmInstall,
];

export type { StepPayloads, StepResults };

/**
 * Every step result may ask for a reboot; the workflow then sends a reboot task and waits for a new
 * boot id. (A type, not an interface: results are plain JSON records, `Record<string, unknown>`.)
 */
export type StepResultBase = {
  /** Nothing was changed: the machine already was in the asked-for state. */
  alreadyDone?: boolean;
  reboot?: boolean;
};

/**
 * What the agent channel hands a workflow for a step of kind K: its result, held to the kind's
 * schema, read with the flags every step may set (inventory's schema allows none, so it has none).
 */
export type TaskResult<K extends StepKind = StepKind> = StepResults[K] & StepResultBase;

/** A step's kind with its result: narrowing `kind` narrows `result` (a plan runs steps of every kind). */
export type StepOutcome<K extends StepKind = StepKind> = {
  [P in K]: { kind: P; result: TaskResult<P> };
}[K];

export type PreflightPayload = StepPayloads[StepKind.Preflight];
export type RenamePayload = StepPayloads[StepKind.Rename];
export type WingetPayload = StepPayloads[StepKind.Winget];
export type InstallerPayload = StepPayloads[StepKind.Installer];
export type TweaksPayload = StepPayloads[StepKind.Tweaks];
export type TweaksUndoPayload = StepPayloads[StepKind.TweaksUndo];
export type LocalePayload = StepPayloads[StepKind.Locale];
export type WifiPayload = StepPayloads[StepKind.Wifi];
export type InventoryPayload = StepPayloads[StepKind.Inventory];
export type ValidatePayload = StepPayloads[StepKind.Validate];
export type RebootPayload = StepPayloads[StepKind.Reboot];
export type LocalAdminEscrowPayload = StepPayloads[StepKind.LocalAdminEscrow];
export type LocalAdminApplyPayload = StepPayloads[StepKind.LocalAdminApply];
export type LocalAdminEscrowResult = StepResults[StepKind.LocalAdminEscrow];
export type LocalAdminApplyResult = StepResults[StepKind.LocalAdminApply];
export type BitLockerEscrowPayload = StepPayloads[StepKind.BitLockerEscrow];
export type BitLockerApplyPayload = StepPayloads[StepKind.BitLockerApply];
export type BitLockerApplyResult = StepResults[StepKind.BitLockerApply];

/** A local admin password's length when the profile names none (the API checks the ciphertext's size by it). */
export const DEFAULT_LOCAL_ADMIN_PASSWORD_LENGTH = 24;

/**
 * What the API hands the workflow for an escrow step instead of the agent's result: the stored
 * secret's id and version, and the digest of the envelope it stored (the apply task carries it, so
 * the agent sets only the password whose envelope the server holds). Never the envelope itself.
 */
export interface EscrowCompletion {
  escrowId: string;
  secretVersion: number;
  keyVersion: number;
  envelopeDigest: string;
}
export type {
  EditionFamily,
  RadiusPin,
  RegistrySetting,
  TweakAction,
  TweakApplicability,
  TweakSpec,
  WifiNetwork,
} from './step-payloads';

export type PreflightResult = StepResults[StepKind.Preflight];
export type WingetReadyResult = StepResults[StepKind.WingetReady];
export type WingetResult = StepResults[StepKind.Winget];
export type InstallerResult = StepResults[StepKind.Installer];
export type TweaksResult = StepResults[StepKind.Tweaks];
export type TweaksUndoResult = StepResults[StepKind.TweaksUndo];
export type WifiResult = StepResults[StepKind.Wifi];
export type InventoryResult = StepResults[StepKind.Inventory];
export type ValidateResult = StepResults[StepKind.Validate];
export type RebootResult = StepResults[StepKind.Reboot];
export type DirectoryDiscoverPayload = StepPayloads[StepKind.DirectoryDiscover];
export type DirectoryEnumeratePayload = StepPayloads[StepKind.DirectoryEnumerate];
export type DirectoryDiscoverResult = StepResults[StepKind.DirectoryDiscover];
export type DirectoryEnumerateResult = StepResults[StepKind.DirectoryEnumerate];
export type WinRmProbePayload = StepPayloads[StepKind.WinRmProbe];
export type WinRmInstallPayload = StepPayloads[StepKind.WinRmInstall];
export type WinRmProbeResult = StepResults[StepKind.WinRmProbe];
export type WinRmInstallResult = StepResults[StepKind.WinRmInstall];
export type JoinDomainPayload = StepPayloads[StepKind.JoinDomain];
export type JoinEntraPayload = StepPayloads[StepKind.JoinEntra];
export type JoinVerifyPayload = StepPayloads[StepKind.JoinVerify];
export type JoinDomainResult = StepResults[StepKind.JoinDomain];
export type JoinEntraResult = StepResults[StepKind.JoinEntra];
export type JoinVerifyResult = StepResults[StepKind.JoinVerify];

/** The step kinds whose claim may carry a site's join credential (purpose `join`) to a machine of that site. */
export const JOIN_CREDENTIAL_STEP_KINDS: readonly string[] = [StepKind.JoinDomain];
export type { DiscoveredComputer } from './step-results';
export type { PreflightCheck, ValidationItem } from './step-results';
export type { MigrationMode, MigrationTarget, Precondition } from './profile-steps';

/** Where direct installers record what they installed (check-then-act across redeliveries). */
export const INSTALLER_MARKER_PATH = 'HKLM:\\SOFTWARE\\Drydock\\Installers';

/** Failure types a step reports. Retryable ones are retried by the workflow's policy. */
export enum StepFailure {
  PreflightFailed = 'PreflightFailed',
  NameTaken = 'NameTaken',
  WingetFailed = 'WingetFailed',
  WingetPackageNotFound = 'WingetPackageNotFound',
  InstallerHashMismatch = 'InstallerHashMismatch',
  InstallerDownloadFailed = 'InstallerDownloadFailed',
  InstallerFailed = 'InstallerFailed',
  SettingFailed = 'SettingFailed',
  /** winget cannot run as SYSTEM here (no App Installer, too old, unsigned, or it does not start). */
  WingetUnavailable = 'WingetUnavailable',
  /** The install needs a restart first (winget 0x8A15010A): the workflow restarts, then retries. */
  RebootRequiredFirst = 'RebootRequiredFirst',
  /** Renaming a domain-joined machine needs a domain credential, which no step has yet. */
  RenameNeedsDomainCredential = 'RenameNeedsDomainCredential',
  /** A Windows error that running the step again cannot fix (access denied, invalid argument). */
  WindowsError = 'WindowsError',
  UnknownStep = 'UnknownStep',
  /** The payload is not what this agent's step takes (a value a newer server sends, or a bug): nothing ran. */
  InvalidPayload = 'InvalidPayload',
  StepCrashed = 'StepCrashed',
  /** The profile could not be re-assigned, copied or restored; the run compensates from the backup. */
  MigrationFailed = 'MigrationFailed',
  /** The backup on the machine is missing or does not match the checksum the run kept. */
  BackupMismatch = 'BackupMismatch',
  /** The task names a domain credential this machine may not use (not an active gateway of its site). */
  CredentialUnavailable = 'CredentialUnavailable',
  /** A gateway step was claimed by a machine that is not an active gateway: nothing ran. */
  NotAGateway = 'NotAGateway',
  /** The domain controller refused the domain credential (wrong user name or password, account locked). */
  DirectoryAuthFailed = 'DirectoryAuthFailed',
  /** The DC's certificate is not trusted or does not match the pin. */
  DirectoryTlsFailed = 'DirectoryTlsFailed',
  /** The DC could not be reached or did not answer in time (retryable). */
  DirectoryUnreachable = 'DirectoryUnreachable',
  /** The DC answered with something the gateway cannot use. */
  DirectoryProtocolError = 'DirectoryProtocolError',
  /**
   * The apply step asked for a password this agent no longer holds (it restarted since the escrow,
   * or the server stored another envelope): nothing changed; the workflow escrows a new version.
   */
  EscrowPendingLost = 'EscrowPendingLost',
  /** The escrow upload was refused (not sealed to this task's tenant key, machine, kind or version). */
  EscrowRefused = 'EscrowRefused',
  /** The host refused the domain credential over WinRM (wrong user or password, not an administrator). */
  WinRmAuthFailed = 'WinRmAuthFailed',
  /** The host's WinRM listener could not be reached (refused, no route, reset): retryable. */
  WinRmUnreachable = 'WinRmUnreachable',
  /** TLS to the host's HTTPS listener failed (untrusted certificate, pin mismatch). */
  WinRmTlsFailed = 'WinRmTlsFailed',
  /** The host did not answer, or the command did not finish, in time: retryable. */
  WinRmTimeout = 'WinRmTimeout',
  /** The listener answered with something the gateway cannot use (a WS-Management fault). */
  WinRmProtocolError = 'WinRmProtocolError',
  /** The host could not download the installer from the API (its network, proxy or the link). */
  AgentDownloadFailed = 'AgentDownloadFailed',
  /** The downloaded installer's SHA-256 is not the site installer's: nothing was run. */
  AgentHashMismatch = 'AgentHashMismatch',
  /** msiexec ended with a failure exit code (1603 and the like): the code is in the message. */
  AgentInstallFailed = 'AgentInstallFailed',
  /** Another installation is running on the host (msiexec 1618): retryable. */
  AgentInstallBusy = 'AgentInstallBusy',
  /** msiexec succeeded but the DrydockAgent service is not running afterwards. */
  AgentServiceNotRunning = 'AgentServiceNotRunning',
  /** The claim carried no one-time installer link (the gateway resumed a step after a restart): retryable. */
  InstallerLinkUnavailable = 'InstallerLinkUnavailable',
  /**
   * The domain refused the join credential (unknown user or bad password 0x8007052E, locked or
   * disabled account, or not allowed to create the computer in the OU 0x80070005).
   */
  JoinAuthFailed = 'JoinAuthFailed',
  /** The OU the profile names does not exist in the domain (0x80072030). */
  JoinOuNotFound = 'JoinOuNotFound',
  /** The domain (or the DC the profile names) could not be found or reached (0x8007054B): retryable. */
  JoinDomainUnreachable = 'JoinDomainUnreachable',
  /** The machine is a member of another domain: Drydock does not unjoin it. */
  JoinedToAnotherDomain = 'JoinedToAnotherDomain',
  /** Add-Computer failed otherwise (the Windows message is in the text, the credential never). */
  JoinFailed = 'JoinFailed',
  /** After the restart the machine is not what the join asked for (not a member, another OU, another name). */
  JoinNotVerified = 'JoinNotVerified',
  /** Install-ProvisioningPackage failed, or the package did not leave the machine Entra joined. */
  EntraJoinFailed = 'EntraJoinFailed',
  /** The provisioning package's download failed (retryable) or its SHA-256 is not the profile's. */
  ProvisioningPackageUnavailable = 'ProvisioningPackageUnavailable',
}
