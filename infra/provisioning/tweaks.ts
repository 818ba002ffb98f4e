/**
 * The tweak catalogue, in the spirit of WinUtil's "Standard" preset (seed 000). Each tweak says
 * what it sets and what it restores. Nothing that weakens disk encryption is in it, ever.
 * `standard` is the default selection from the seed's ON/OFF list.
 */
export interface RegistryChange {
  path: string;
  name: string;
  type: 'DWord' | 'String';
  value: number | string;
  /** The value to restore; null = delete the value. */
  restore: number | string | null;
}

export interface Tweak {
  id: string;
  name: string;
  category: 'essential' | 'preference';
  standard: boolean;
  registry: RegistryChange[];
}

const HKCU_ADV = 'HKCU:\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\Advanced';
const dword = (path: string, name: string, value: number, restore: number | null): RegistryChange => ({
  path,
  name,
  type: 'DWord',
  value,
  restore,
});

export const tweakCatalogue: Tweak[] = [
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
        null,
      ),
    ],
  },
  {
    id: 'disable-telemetry',
    name: 'Disable Telemetry',
    category: 'essential',
    standard: true,
    registry: [
      dword('HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\DataCollection', 'AllowTelemetry', 0, null),
    ],
  },
  {
    id: 'disable-activity-history',
    name: 'Disable Activity History',
    category: 'essential',
    standard: true,
    registry: [
      dword('HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\System', 'PublishUserActivities', 0, null),
    ],
  },
  {
    id: 'disable-gamedvr',
    name: 'Disable GameDVR',
    category: 'essential',
    standard: true,
    registry: [dword('HKCU:\\System\\GameConfigStore', 'GameDVR_Enabled', 0, 1)],
  },
  {
    id: 'disable-hibernation',
    name: 'Disable Hibernation',
    category: 'essential',
    standard: true,
    registry: [dword('HKLM:\\SYSTEM\\CurrentControlSet\\Control\\Power', 'HibernateEnabled', 0, 1)],
  },
  {
    id: 'disable-location-tracking',
    name: 'Disable Location Tracking',
    category: 'essential',
    standard: true,
    registry: [
      dword('HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\LocationAndSensors', 'DisableLocation', 1, null),
    ],
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
        1,
      ),
    ],
  },
  {
    id: 'disable-wifi-sense',
    name: 'Disable Wifi-Sense',
    category: 'essential',
    standard: true,
    registry: [
      dword(
        'HKLM:\\SOFTWARE\\Microsoft\\PolicyManager\\default\\WiFi\\AllowWiFiHotSpotReporting',
        'Value',
        0,
        1,
      ),
    ],
  },
  {
    id: 'prefer-ipv4',
    name: 'Prefer IPv4 over IPv6',
    category: 'essential',
    standard: true,
    registry: [
      dword('HKLM:\\SYSTEM\\CurrentControlSet\\Services\\Tcpip6\\Parameters', 'DisabledComponents', 32, 0),
    ],
  },
  {
    id: 'end-task-right-click',
    name: 'Enable End Task with Right Click',
    category: 'essential',
    standard: false,
    registry: [dword(`${HKCU_ADV}\\TaskbarDeveloperSettings`, 'TaskbarEndTask', 1, 0)],
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
        1,
      ),
      dword(
        'HKCU:\\Software\\Microsoft\\Windows\\CurrentVersion\\Themes\\Personalize',
        'SystemUsesLightTheme',
        0,
        1,
      ),
    ],
  },
  {
    id: 'show-file-extensions',
    name: 'Show File Extensions',
    category: 'preference',
    standard: true,
    registry: [dword(HKCU_ADV, 'HideFileExt', 0, 1)],
  },
  {
    id: 'center-taskbar',
    name: 'Center Taskbar Items',
    category: 'preference',
    standard: true,
    registry: [dword(HKCU_ADV, 'TaskbarAl', 1, 0)],
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
        restore: '0',
      },
    ],
  },
  {
    id: 'bing-search-off',
    name: 'Bing Search in Start Menu (off)',
    category: 'preference',
    standard: true,
    registry: [
      dword('HKCU:\\Software\\Microsoft\\Windows\\CurrentVersion\\Search', 'BingSearchEnabled', 0, 1),
    ],
  },
  {
    id: 'task-view-button-off',
    name: 'Task View Button (off)',
    category: 'preference',
    standard: true,
    registry: [dword(HKCU_ADV, 'ShowTaskViewButton', 0, 1)],
  },
  {
    id: 'widgets-button-off',
    name: 'Widgets Button (off)',
    category: 'preference',
    standard: true,
    registry: [dword(HKCU_ADV, 'TaskbarDa', 0, 1)],
  },
  {
    id: 'show-hidden-files',
    name: 'Show Hidden Files',
    category: 'preference',
    standard: false,
    registry: [dword(HKCU_ADV, 'Hidden', 1, 2)],
  },
  {
    id: 'verbose-logon',
    name: 'Verbose Logon',
    category: 'preference',
    standard: false,
    registry: [
      dword('HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System', 'VerboseStatus', 1, 0),
    ],
  },
  {
    id: 'detailed-bsod',
    name: 'Detailed BSoD',
    category: 'preference',
    standard: false,
    registry: [dword('HKLM:\\SYSTEM\\CurrentControlSet\\Control\\CrashControl', 'DisplayParameters', 1, 0)],
  },
];

export const tweakIds = new Set(tweakCatalogue.map((t) => t.id));
export const standardTweakIds = tweakCatalogue.filter((t) => t.standard).map((t) => t.id);
