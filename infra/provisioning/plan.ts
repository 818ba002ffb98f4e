import {
  StepKind,
  type LocalePayload,
  type RegistrySetting,
  type TweakSpec,
  type ValidatePayload,
} from '../wire/agent-steps';
import type { PlanStep } from '../../workflows/provisioning/contracts';
import type { TenantPublicKey } from '../wire/escrow-envelope';
import { PHASE_ORDER, type Profile } from './profile';
import { retiredTweakIds, tweakCatalogue } from './tweaks';

/**
 * Turns a resolved profile into the ordered steps provisionMachine runs. Built by an activity and
 * recorded in the run's history, so the workflow replays the same plan even after the code or the
 * catalogue changes. Each step carries its kind's payload (`StepPayloads`); the rename step carries
 * the name the activity reserved for the machine from the identity phase's template (reserveName).
 */
export function buildPlan(
  profile: Profile,
  reserved: {
    hostname?: string;
    /** The machine and the tenant's current escrow key, when the security phase escrows (ADR 0044). */
    escrow?: { machineId: string; recipient: TenantPublicKey };
    /** The join credential the profile's `credential` resolved to for the machine's site (its id only, ADR 0048). */
    joinCredentialId?: string;
  } = {},
): PlanStep[] {
  const p = profile.phases;
  const steps: PlanStep[] = [];
  // In catalogue order, so the restore point comes first whatever the selection's order; retired
  // tweaks (no longer doing anything on current Windows) are left out.
  const selected = new Set(
    p.tweaks.enabled ? p.tweaks.selected.filter((id) => !retiredTweakIds.has(id)) : [],
  );
  const tweaks: TweakSpec[] = tweakCatalogue
    .filter((t) => selected.has(t.id))
    .map((tweak) => ({
      id: tweak.id,
      registry: tweak.registry.map((r): RegistrySetting => ({
        path: r.path,
        name: r.name,
        type: r.type,
        value: r.value,
      })),
      ...(tweak.actions ? { actions: tweak.actions } : {}),
      ...(tweak.applies ? { applies: tweak.applies } : {}),
      ...(tweak.needs ? { needs: tweak.needs } : {}),
    }));
  for (const phase of PHASE_ORDER) {
    if (!p[phase].enabled) continue;
    switch (phase) {
      case 'preflight': {
        const { enabled: _e, ...checks } = p.preflight;
        steps.push({
          key: 'preflight',
          phase,
          kind: StepKind.Preflight,
          label: 'Preflight checks',
          payload: checks,
          policy: 'check',
        });
        break;
      }
      case 'identity':
        // A domain join renames while it joins (Add-Computer -NewName): one restart, not two.
        if (p.join.enabled && p.join.domain) {
          if (reserved.hostname === undefined)
            throw new Error(
              `the identity phase renames the machine: reserve its name (template ${p.identity.nameTemplate}) before building the plan`,
            );
          break;
        }
        if (reserved.hostname === undefined)
          throw new Error(
            `the identity phase renames the machine: reserve its name (template ${p.identity.nameTemplate}) before building the plan`,
          );
        steps.push({
          key: 'identity.rename',
          phase,
          kind: StepKind.Rename,
          label: `Rename to ${reserved.hostname}`,
          payload: { name: reserved.hostname },
          policy: 'change',
        });
        break;
      case 'apps':
        // winget must be able to run as SYSTEM before any package is asked of it.
        if (p.apps.winget.length > 0)
          steps.push({
            key: 'apps.winget-ready',
            phase,
            kind: StepKind.WingetReady,
            label: 'Make winget ready (App Installer, runtime, signature)',
            payload: {},
            policy: 'check',
          });
        for (const app of p.apps.winget) {
          steps.push({
            key: `apps.winget:${app.id}`,
            phase,
            kind: StepKind.Winget,
            label: `Install ${app.id}${app.version ? ` ${app.version}` : ''} (winget)`,
            payload: { id: app.id, ...(app.version ? { version: app.version } : {}) },
            policy: 'install',
          });
        }
        for (const inst of p.apps.installers) {
          steps.push({
            key: `apps.installer:${inst.name}`,
            phase,
            kind: StepKind.Installer,
            label: `Install ${inst.name} (SHA-256 pinned)`,
            payload: { name: inst.name, url: inst.url, sha256: inst.sha256, arguments: inst.arguments },
            policy: 'install',
          });
        }
        break;
      case 'tweaks':
        if (tweaks.length > 0)
          steps.push({
            key: 'tweaks',
            phase,
            kind: StepKind.Tweaks,
            label: `Apply ${tweaks.length} tweak(s)`,
            payload: { tweaks },
            policy: 'change',
          });
        break;
      case 'locale':
        steps.push({
          key: 'locale',
          phase,
          kind: StepKind.Locale,
          label: `Time zone ${p.locale.timeZone}, locale ${p.locale.locale}, keyboard ${p.locale.keyboard}`,
          payload: localePayload(p.locale),
          policy: 'change',
        });
        if (p.locale.wifi.length > 0)
          steps.push({
            key: 'locale.wifi',
            phase,
            kind: StepKind.Wifi,
            label: `Wi-Fi: ${p.locale.wifi.map((w) => w.ssid).join(', ')}`,
            payload: { networks: p.locale.wifi },
            policy: 'change',
          });
        break;
      case 'inventory':
        steps.push({
          key: 'inventory',
          phase,
          kind: StepKind.Inventory,
          label: p.inventory.autopilotHash ? 'Inventory and Autopilot hash' : 'Inventory',
          payload: { autopilotHash: p.inventory.autopilotHash },
          policy: 'check',
        });
        break;
      case 'validation': {
        const expected: ValidatePayload = {
          apps: p.apps.enabled ? p.apps.winget.map((a) => a.id) : [],
          installers: p.apps.enabled
            ? p.apps.installers.map((i) => ({ name: i.name, sha256: i.sha256 }))
            : [],
          registry: tweaks.flatMap((t) =>
            t.registry.map((r) => ({ ...r, tweak: t.id, ...(t.applies ? { applies: t.applies } : {}) })),
          ),
          ...(p.locale.enabled ? { locale: localePayload(p.locale) } : {}),
          wifi: p.locale.enabled ? p.locale.wifi.map((w) => w.ssid) : [],
          wifiWpa3Enterprise: p.locale.enabled
            ? p.locale.wifi.filter((w) => w.authentication === 'wpa3-enterprise').map((w) => w.ssid)
            : [],
        };
        steps.push({
          key: 'validation',
          phase,
          kind: StepKind.Validate,
          label: 'Validate the machine against the config',
          payload: expected,
          policy: 'check',
        });
        break;
      }
      case 'security': {
        const admin = p.security.localAdmin;
        if (admin) {
          if (!reserved.escrow)
            throw new Error(
              'the security phase escrows the local admin password: it needs the tenant escrow key',
            );
          // One plan step, two tasks: the workflow escrows a new version, then applies it
          // (MachineRun.rotateLocalAdmin); the secret version here is replaced per round.
          steps.push({
            key: 'security.local-admin',
            phase,
            kind: StepKind.LocalAdminEscrow,
            label: `Escrow, then set the password of ${admin.account}`,
            payload: {
              account: admin.account,
              ...(admin.create ? { create: true } : {}),
              ...(admin.length ? { length: admin.length } : {}),
              recipient: reserved.escrow.recipient,
              machineId: reserved.escrow.machineId,
              secretVersion: 1,
            },
            policy: 'change',
          });
        }
        const bitlocker = p.security.bitlocker;
        if (bitlocker) {
          if (!reserved.escrow)
            throw new Error(
              'the security phase escrows the BitLocker recovery password: it needs the tenant escrow key',
            );
          steps.push({
            key: 'security.bitlocker',
            phase,
            kind: StepKind.BitLockerEscrow,
            label: 'Escrow a recovery password, then BitLocker on C: with the TPM',
            payload: {
              mountPoint: 'C:',
              recipient: reserved.escrow.recipient,
              machineId: reserved.escrow.machineId,
              secretVersion: 1,
              ...(bitlocker.encryptionMethod ? { encryptionMethod: bitlocker.encryptionMethod } : {}),
              ...(bitlocker.usedSpaceOnly !== undefined ? { usedSpaceOnly: bitlocker.usedSpaceOnly } : {}),
            },
            policy: 'change',
          });
        }
        break;
      }
      case 'join':
        steps.push(...joinSteps(p.join, reserved));
        break;
      // drivers: its steps arrive later.
      default:
        break;
    }
  }
  return steps;
}

/**
 * The join phase (ADR 0048): the join, then — after the restart the join asks for, which the run
 * takes at once — a verification of what Windows reports. A domain join folds the reserved name in
 * (`newName`): on a machine whose rename is still pending, Add-Computer -NewName renames and joins
 * in one restart. Autopilot runs nothing: its step checks and reports.
 */
function joinSteps(
  join: Profile['phases']['join'],
  reserved: { hostname?: string; joinCredentialId?: string },
): PlanStep[] {
  if (join.domain) {
    const { name, ouPath, server } = join.domain;
    if (!reserved.joinCredentialId)
      throw new Error(
        "the join phase joins a domain: resolve the site's join credential before building the plan",
      );
    return [
      {
        key: 'join.domain',
        phase: 'join',
        kind: StepKind.JoinDomain,
        label: `Join ${name}${ouPath ? ` into ${ouPath}` : ''}`,
        payload: {
          domain: name,
          ...(ouPath ? { ouPath } : {}),
          credentialRef: reserved.joinCredentialId,
          ...(server ? { server } : {}),
          ...(reserved.hostname ? { newName: reserved.hostname } : {}),
        },
        policy: 'change',
      },
      {
        key: 'join.verify',
        phase: 'join',
        kind: StepKind.JoinVerify,
        label: `Verify the membership of ${name}`,
        payload: {
          domain: name,
          ...(ouPath ? { ouPath } : {}),
          ...(reserved.hostname ? { name: reserved.hostname } : {}),
        },
        policy: 'check',
      },
    ];
  }
  if (!join.entra) return [];
  if (join.entra.method === 'autopilot')
    return [
      {
        key: 'join.entra',
        phase: 'join',
        kind: StepKind.JoinEntra,
        label: 'Check the Autopilot Entra join (nothing is run)',
        payload: { method: 'autopilot' },
        policy: 'check',
      },
    ];
  const pkg = join.entra.package!;
  return [
    {
      key: 'join.entra',
      phase: 'join',
      kind: StepKind.JoinEntra,
      label: `Entra join with the provisioning package ${pkg.name}`,
      payload: {
        method: 'provisioning-package',
        package: { name: pkg.name, url: pkg.url, sha256: pkg.sha256.toLowerCase() },
      },
      policy: 'change',
    },
    {
      key: 'join.verify',
      phase: 'join',
      kind: StepKind.JoinVerify,
      label: 'Verify the Entra join (dsregcmd)',
      payload: { entra: true },
      policy: 'check',
    },
  ];
}

function localePayload(l: Profile['phases']['locale']): LocalePayload {
  return {
    timeZone: l.timeZone,
    locale: l.locale,
    keyboard: l.keyboard,
    formats: l.formats ?? l.locale,
    homeLocation: l.homeLocation,
  };
}

/** Renders a NetBIOS name from a template. Tokens: {SITE} (6), {SERIAL4}, {SEQ3}. Upper-case, ≤ 15. */
export function renderName(template: string, values: { site: string; serial: string; seq: number }): string {
  const site = values.site
    .toUpperCase()
    .replace(/[^A-Z0-9]/g, '')
    .slice(0, 6);
  const serial = values.serial.toUpperCase().replace(/[^A-Z0-9]/g, '');
  return template
    .replace(/\{SITE\}/g, site)
    .replace(/\{SERIAL4\}/g, serial.slice(-4).padStart(4, '0'))
    .replace(/\{SEQ3\}/g, String(values.seq).padStart(3, '0'))
    .toUpperCase();
}

/** NetBIOS-safe: 1–15 letters, digits and dashes, not all digits, no leading or trailing dash. */
export function isNetbiosName(name: string): boolean {
  return /^[A-Z0-9](?:[A-Z0-9-]{0,13}[A-Z0-9])?$/.test(name) && !/^[0-9]+$/.test(name);
}
