import type { TweakAction, TweakApplicability } from '../wire/agent-steps';

/**
 * The tweak catalogue, rebased on WinUtil (ChrisTitusTech/winutil) `config/tweaks.json` at commit
 * 086aecf4b7d165f9fd1822049435c418a48e7cba (the file last changed in 87a0eb863779b703d0767bba85350758db068e9e),
 * with Microsoft's documentation where a value is a policy. Each tweak says what it writes, where
 * it applies (edition, build, hardware), whether it needs a restart or a new sign-in, and its
 * source. Nothing restores by a fixed "original" value: before changing anything the agent records
 * what the machine had (or that it was absent), and undoTweaks puts exactly that back.
 * Nothing that weakens disk encryption is in it, ever. `standard` = on in the Standard profile.
 */
export interface RegistryChange {
  path: string;
  name: string;
  type: 'DWord' | 'String';
  value: number | string;
}

export interface Tweak {
  id: string;
  name: string;
  category: 'essential' | 'preference';
  standard: boolean;
  registry: RegistryChange[];
  actions?: TweakAction[];
  applies?: TweakApplicability;
  needs?: 'restart' | 'sign-in';
  /** Where the values come from: the WinUtil entry or the Microsoft document. */
  source: string;
  /** Said in docs/profiles.md: why the value is what it is on each edition. */
  note?: string;
}

const HKCU_ADV = 'HKCU:\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\Advanced';
const dword = (path: string, name: string, value: number): RegistryChange => ({
  path,
  name,
  type: 'DWord',
  value,
});
const WINUTIL = 'WinUtil tweaks.json';
/** Windows 11 23H2: End Task in the taskbar's menu. */
const BUILD_WIN11_23H2 = 22631;
const BUILD_WIN11 = 22000;

export const tweakCatalogue: Tweak[] = [
  {
    // Always applied first, whatever the selection's order: the restore point is taken before anything changes.
    id: 'create-restore-point',
    name: 'Create a restore point first',
    category: 'essential',
    standard: true,
    registry: [
      // Without it Windows skips a restore point when one was made in the last 24 hours.
      dword(
        'HKLM:\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\SystemRestore',
        'SystemRestorePointCreationFrequency',
        0,
      ),
    ],
    actions: ['restore-point'],
    source: `${WINUTIL} WPFTweaksRestorePoint; Checkpoint-Computer (Microsoft.PowerShell.Management)`,
  },
  {
    id: 'disable-consumer-features',
    name: 'Disable ConsumerFeatures',
    category: 'essential',
    standard: true,
    registry: [
      dword(
        'HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\CloudContent',
        'DisableWindowsConsumerFeatures',
        1,
      ),
    ],
    // Microsoft: "Turn off Microsoft consumer experiences" applies to Enterprise and Education only.
    applies: { editions: ['enterprise', 'education', 'ltsc'] },
    source: `${WINUTIL} WPFTweaksConsumerFeatures; Microsoft Learn, Policy CSP Experience/AllowWindowsConsumerFeatures`,
    note: 'Windows honours it on Enterprise, Education and LTSC only: skipped (reported) on Home and Pro.',
  },
  {
    id: 'disable-telemetry',
    name: 'Telemetry to Required, no advertising ID or tailored experiences',
    category: 'essential',
    standard: true,
    registry: [
      // 1 (Required), not WinUtil's 0: on Enterprise and Education 0 is honoured and stops Windows
      // Update for Business reports and Autopatch; on Home and Pro 0 is treated as 1 anyway.
      dword('HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\DataCollection', 'AllowTelemetry', 1),
      dword('HKCU:\\Software\\Microsoft\\Windows\\CurrentVersion\\AdvertisingInfo', 'Enabled', 0),
      dword(
        'HKCU:\\Software\\Microsoft\\Windows\\CurrentVersion\\Privacy',
        'TailoredExperiencesWithDiagnosticDataEnabled',
        0,
      ),
    ],
    needs: 'sign-in',
    source: `${WINUTIL} WPFTweaksTelemetry (its HKCU values); Microsoft Learn, "Configure Windows diagnostic data in your organization" and Windows Update for Business reports prerequisites (AllowTelemetry)`,
    note: 'AllowTelemetry=1 (Required) on every edition: Enterprise/Education would honour 0 and lose Windows Update for Business reports and Autopatch; Home/Pro treat 0 as 1.',
  },
  {
    id: 'disable-activity-history',
    name: 'Disable Activity History',
    category: 'essential',
    standard: true,
    registry: [
      dword('HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\System', 'EnableActivityFeed', 0),
      dword('HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\System', 'PublishUserActivities', 0),
      dword('HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\System', 'UploadUserActivities', 0),
    ],
    source: `${WINUTIL} WPFTweaksActivity`,
  },
  {
    id: 'disable-gamedvr',
    name: 'Disable GameDVR',
    category: 'essential',
    standard: true,
    registry: [
      dword('HKCU:\\System\\GameConfigStore', 'GameDVR_Enabled', 0),
      dword('HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\GameDVR', 'AllowGameDVR', 0),
    ],
    needs: 'sign-in',
    source: `${WINUTIL} WPFTweaksDVR`,
  },
  {
    id: 'disable-hibernation',
    name: 'Disable Hibernation (desktops)',
    category: 'essential',
    standard: true,
    registry: [
      dword(
        'HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Explorer\\FlyoutMenuSettings',
        'ShowHibernateOption',
        0,
      ),
    ],
    // powercfg /hibernate off takes effect at once and removes hiberfil.sys (the registry value alone
    // waits for a restart). Not on machines with a battery: a Modern Standby laptop hibernates
    // after long standby, and without it drains flat.
    actions: ['hibernation-off'],
    applies: { desktopOnly: true },
    source: `${WINUTIL} WPFTweaksHiber; Microsoft Learn, powercfg /hibernate`,
    note: 'Desktops only (no battery): skipped on laptops and tablets, where Modern Standby relies on hibernation.',
  },
  {
    id: 'disable-location-tracking',
    name: 'Disable Location Tracking',
    category: 'essential',
    standard: true,
    registry: [
      {
        path: 'HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\CapabilityAccessManager\\ConsentStore\\location',
        name: 'Value',
        type: 'String',
        value: 'Deny',
      },
      dword(
        'HKLM:\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Sensor\\Overrides\\{BFA794E4-F964-4FDB-90F6-51056BFE4B44}',
        'SensorPermissionState',
        0,
      ),
      dword('HKLM:\\SYSTEM\\Maps', 'AutoUpdateEnabled', 0),
    ],
    source: `${WINUTIL} WPFTweaksLocation`,
  },
  {
    id: 'disable-storage-sense',
    name: 'Disable Storage Sense',
    category: 'essential',
    standard: true,
    registry: [
      dword(
        'HKCU:\\Software\\Microsoft\\Windows\\CurrentVersion\\StorageSense\\Parameters\\StoragePolicy',
        '01',
        0,
      ),
    ],
    source: `${WINUTIL} WPFTweaksStorage`,
  },
  {
    id: 'prefer-ipv4',
    name: 'Prefer IPv4 over IPv6',
    category: 'essential',
    standard: true,
    registry: [
      dword('HKLM:\\SYSTEM\\CurrentControlSet\\Services\\Tcpip6\\Parameters', 'DisabledComponents', 32),
    ],
    needs: 'restart',
    source: `${WINUTIL} WPFTweaksIPv46; Microsoft Learn, "Guidance for configuring IPv6 in Windows" (0x20)`,
  },
  {
    id: 'end-task-right-click',
    name: 'Enable End Task with Right Click',
    category: 'essential',
    standard: true,
    registry: [dword(`${HKCU_ADV}\\TaskbarDeveloperSettings`, 'TaskbarEndTask', 1)],
    applies: { minBuild: BUILD_WIN11_23H2 },
    needs: 'sign-in',
    source: `${WINUTIL} WPFTweaksEndTaskOnTaskbar`,
    note: 'Windows 11 23H2 (build 22631) and later: skipped on older builds, which have no End Task.',
  },
  {
    id: 'dark-theme',
    name: 'Dark Theme',
    category: 'preference',
    standard: true,
    registry: [
      dword(
        'HKCU:\\Software\\Microsoft\\Windows\\CurrentVersion\\Themes\\Personalize',
        'AppsUseLightTheme',
        0,
      ),
      dword(
        'HKCU:\\Software\\Microsoft\\Windows\\CurrentVersion\\Themes\\Personalize',
        'SystemUsesLightTheme',
        0,
      ),
    ],
    needs: 'sign-in',
    source: `${WINUTIL} WPFToggleDarkMode`,
  },
  {
    id: 'show-file-extensions',
    name: 'Show File Extensions',
    category: 'preference',
    standard: true,
    registry: [dword(HKCU_ADV, 'HideFileExt', 0)],
    needs: 'sign-in',
    source: `${WINUTIL} WPFToggleShowExt`,
  },
  {
    id: 'center-taskbar',
    name: 'Center Taskbar Items',
    category: 'preference',
    standard: true,
    registry: [dword(HKCU_ADV, 'TaskbarAl', 1)],
    applies: { minBuild: BUILD_WIN11 },
    needs: 'sign-in',
    source: `${WINUTIL} WPFToggleTaskbarAlignment`,
    note: 'Windows 11 only: Windows 10 has no such setting.',
  },
  {
    id: 'numlock-on',
    name: 'NumLock on at startup',
    category: 'preference',
    standard: true,
    registry: [
      {
        path: 'HKU:\\.DEFAULT\\Control Panel\\Keyboard',
        name: 'InitialKeyboardIndicators',
        type: 'String',
        value: '2',
      },
      {
        path: 'HKCU:\\Control Panel\\Keyboard',
        name: 'InitialKeyboardIndicators',
        type: 'String',
        value: '2',
      },
    ],
    needs: 'sign-in',
    source: `${WINUTIL} WPFToggleNumLock`,
  },
  {
    id: 'bing-search-off',
    name: 'Web (Bing) results in Start search (off)',
    category: 'preference',
    standard: true,
    // The old Search\BingSearchEnabled is ignored by current builds; this policy is the documented switch.
    registry: [
      dword('HKCU:\\Software\\Policies\\Microsoft\\Windows\\Explorer', 'DisableSearchBoxSuggestions', 1),
    ],
    needs: 'sign-in',
    source:
      'Microsoft Learn, Policy CSP ADMX_WindowsExplorer/DisableSearchBoxSuggestions (Windows 10 2004 and later, Windows 11)',
  },
  {
    id: 'task-view-button-off',
    name: 'Task View Button (off)',
    category: 'preference',
    standard: true,
    registry: [dword(HKCU_ADV, 'ShowTaskViewButton', 0)],
    needs: 'sign-in',
    source: `${WINUTIL} WPFToggleTaskView`,
  },
  {
    id: 'widgets-button-off',
    name: 'Widgets / News and Interests (off, by policy)',
    category: 'preference',
    standard: true,
    // Not Explorer\Advanced\TaskbarDa: User Choice Protection (UCPD) denies writes to it on current
    // Windows 11, and WinUtil dropped that toggle. The policies are what Microsoft documents.
    registry: [
      dword('HKLM:\\SOFTWARE\\Policies\\Microsoft\\Dsh', 'AllowNewsAndInterests', 0),
      dword('HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\Windows Feeds', 'EnableFeeds', 0),
    ],
    needs: 'sign-in',
    source:
      'Microsoft Learn, Policy CSP NewsAndInterests/AllowNewsAndInterests (Windows 11) and Feeds/EnableFeeds (Windows 10)',
  },
  {
    id: 'show-hidden-files',
    name: 'Show Hidden Files',
    category: 'preference',
    standard: false,
    registry: [dword(HKCU_ADV, 'Hidden', 1)],
    needs: 'sign-in',
    source: `${WINUTIL} WPFToggleHiddenFiles`,
  },
  {
    id: 'verbose-logon',
    name: 'Verbose Logon',
    category: 'preference',
    standard: false,
    registry: [
      dword('HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System', 'VerboseStatus', 1),
    ],
    source: `${WINUTIL} WPFToggleVerboseLogon`,
  },
  {
    id: 'detailed-bsod',
    name: 'Detailed BSoD',
    category: 'preference',
    standard: false,
    registry: [
      dword('HKLM:\\SYSTEM\\CurrentControlSet\\Control\\CrashControl', 'DisplayParameters', 1),
      dword('HKLM:\\SYSTEM\\CurrentControlSet\\Control\\CrashControl', 'DisableEmoticon', 1),
    ],
    needs: 'restart',
    source: `${WINUTIL} WPFToggleDetailedBSoD`,
  },
];

/**
 * Tweaks that were in the catalogue and no longer do anything on current Windows: profiles that
 * select them stay valid and the plan leaves them out. `disable-wifi-sense`: Wi-Fi Sense was
 * removed from Windows 10 in 1803 (WinUtil dropped WPFTweaksWifi).
 */
export const retiredTweakIds = new Set(['disable-wifi-sense']);

export const tweakIds = new Set(tweakCatalogue.map((t) => t.id));
export const standardTweakIds = tweakCatalogue.filter((t) => t.standard).map((t) => t.id);
