/**
 * What a `winget install` exit code means for provisioning (winget-cli doc/windows/package-manager/
 * winget/returnCodes.md, plus the MSI codes installers pass through). Installing is idempotent:
 * "already there" is success, "restart to finish" is success plus a reboot, and the rest are
 * retryable (transient: network, busy, in use) or permanent (wrong id, policy, unsupported).
 */
export type WingetOutcome =
  'installed' | 'already-installed' | 'reboot-required' | 'reboot-first' | 'retryable' | 'permanent';

const hresult = (hex: number) => hex | 0; // winget's HRESULTs arrive as negative 32-bit exit codes

export const WingetCode = {
  Success: 0,
  UpdateNotApplicable: hresult(0x8a15002b),
  PackageAlreadyInstalled: hresult(0x8a150061),
  InstallAlreadyInstalled: hresult(0x8a15010d),
  RebootRequiredToFinish: hresult(0x8a150109),
  RebootInitiated: hresult(0x8a15010b),
  RebootRequiredToInstall: hresult(0x8a15010a),
  DownloadFailed: hresult(0x8a150008),
  NoApplicationsFound: hresult(0x8a150014),
  NoApplicableInstaller: hresult(0x8a150010),
  InstallerHashMismatch: hresult(0x8a150011),
  PackageAgreementsNotAccepted: hresult(0x8a150041),
  SourceOpenFailed: hresult(0x8a150045),
  FailedToOpenAllSources: hresult(0x8a15004b),
  ServiceUnavailable: hresult(0x8a15006d),
  InstallerZeroByteFile: hresult(0x8a150086),
  BlockedByPolicy: hresult(0x8a15003a),
  InstallPackageInUse: hresult(0x8a150101),
  InstallInProgress: hresult(0x8a150102),
  InstallFileInUse: hresult(0x8a150103),
  InstallMissingDependency: hresult(0x8a150104),
  InstallDiskFull: hresult(0x8a150105),
  InstallInsufficientMemory: hresult(0x8a150106),
  InstallNoNetwork: hresult(0x8a150107),
  InstallDowngrade: hresult(0x8a15010e),
  InstallBlockedByPolicy: hresult(0x8a15010f),
  InstallInUseByApplication: hresult(0x8a150111),
  InstallSystemNotSupported: hresult(0x8a150113),
  MsiRebootRequired: 3010,
  MsiRebootInitiated: 1641,
  MsiAnotherInstallInProgress: 1618,
  /** STATUS_DLL_NOT_FOUND: winget.exe could not load its VC++ runtime (winget-cli #2748, #4321). */
  DllNotFound: hresult(0xc0000135),
} as const;

const outcomes = new Map<number, WingetOutcome>([
  [WingetCode.Success, 'installed'],
  [WingetCode.UpdateNotApplicable, 'already-installed'],
  [WingetCode.PackageAlreadyInstalled, 'already-installed'],
  [WingetCode.InstallAlreadyInstalled, 'already-installed'],
  [WingetCode.RebootRequiredToFinish, 'reboot-required'],
  [WingetCode.RebootInitiated, 'reboot-required'],
  [WingetCode.MsiRebootRequired, 'reboot-required'],
  [WingetCode.MsiRebootInitiated, 'reboot-required'],
  // Transient: the same command can succeed later.
  [WingetCode.DownloadFailed, 'retryable'],
  [WingetCode.SourceOpenFailed, 'retryable'],
  [WingetCode.FailedToOpenAllSources, 'retryable'],
  [WingetCode.ServiceUnavailable, 'retryable'],
  [WingetCode.InstallerZeroByteFile, 'retryable'],
  [WingetCode.InstallPackageInUse, 'retryable'],
  [WingetCode.InstallInProgress, 'retryable'],
  [WingetCode.InstallFileInUse, 'retryable'],
  [WingetCode.InstallInsufficientMemory, 'retryable'],
  [WingetCode.InstallNoNetwork, 'retryable'],
  [WingetCode.InstallInUseByApplication, 'retryable'],
  // "Restart before installing": retrying without a restart cannot help (the workflow restarts first).
  [WingetCode.RebootRequiredToInstall, 'reboot-first'],
  [WingetCode.MsiAnotherInstallInProgress, 'retryable'],
  // Permanent: retrying the same command cannot help; the profile or the machine must change.
  [WingetCode.NoApplicationsFound, 'permanent'],
  [WingetCode.NoApplicableInstaller, 'permanent'],
  [WingetCode.InstallerHashMismatch, 'permanent'],
  [WingetCode.PackageAgreementsNotAccepted, 'permanent'],
  [WingetCode.BlockedByPolicy, 'permanent'],
  [WingetCode.InstallBlockedByPolicy, 'permanent'],
  [WingetCode.InstallMissingDependency, 'permanent'],
  [WingetCode.InstallDiskFull, 'permanent'],
  [WingetCode.InstallDowngrade, 'permanent'],
  [WingetCode.InstallSystemNotSupported, 'permanent'],
  [WingetCode.DllNotFound, 'permanent'],
]);

/** Unknown codes are retryable: a bounded retry policy stops them, and a transient cause gets its chance. */
export function classifyWingetExit(code: number): WingetOutcome {
  return outcomes.get(code | 0) ?? 'retryable';
}

export function describeExit(code: number): string {
  const name = Object.entries(WingetCode).find(([, c]) => c === (code | 0))?.[0];
  const hex = code < 0 ? `0x${(code >>> 0).toString(16).toUpperCase()}` : String(code);
  return name ? `${hex} (${name})` : hex;
}
