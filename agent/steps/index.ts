import {
  INSTALLER_MARKER_PATH,
  StepFailure,
  StepKind,
  type PreflightCheck,
  type StepPayloads,
  type StepResults,
  type TweakSpec,
  type ValidationItem,
} from '../../infra/wire/agent-steps';
import { checkStepPayload, isStepPayload } from '../../infra/wire/step-payloads';
import {
  PlatformError,
  StepError,
  type MachineFacts,
  type Platform,
  type RegistryApplyItem,
  type StepContext,
} from '../platform/platform';
import { notApplicable, WINDOWS_11_BUILD } from './applicability';
import { escrowSteps } from './escrow';
import { agentPushSteps } from './agent-push';
import { gatewaySteps } from './gateway';
import { joinSteps } from './join';
import { profileSteps } from './profile-migration';
import { classifyWingetExit, describeExit, WingetCode } from './winget-codes';

/** The step of kind K: takes that kind's payload, returns that kind's result (infra/wire/agent-steps.ts). */
export type StepHandler<K extends StepKind> = (
  platform: Platform,
  payload: StepPayloads[K],
  ctx: StepContext,
) => Promise<StepResults[K]>;

/** Where the reboot step remembers which boot it restarted, so a redelivery does not restart again. */
const REBOOT_MARKER_PATH = 'HKLM:\\SOFTWARE\\Drydock\\Reboots';
/**
 * Where the tweaks step remembers a boot in which it set a tweak that waits for a restart (a value
 * `RestartOwed-<boot id>`): a run of the step again in that boot (a retry after a transient
 * failure, a redelivery, a run restored from a backup) finds the values set and changes nothing,
 * but the restart is still owed.
 */
const TWEAKS_RESTART_PATH = 'HKLM:\\SOFTWARE\\Drydock\\Tweaks';

const sameValue = (a: unknown, b: unknown) => a !== null && String(a) === String(b);

/**
 * The steps this agent runs, by task kind. Delivery is at-least-once (a crash or a reboot in the
 * middle re-runs a step), so every step checks, then acts: a second run finds the work done and
 * changes nothing. Failures say whether trying again can help (StepError.retryable).
 */
export const steps: { [K in StepKind]: StepHandler<K> } = {
  [StepKind.Preflight]: async (platform, p, ctx) => {
    await ctx.progress(10, 'checking power, disk, TPM, Secure Boot and OS build');
    const facts = await platform.preflightFacts();
    const api = await ctx.checkApi();
    // A restart Windows is already waiting for (updates, a staged file rename, a pending name) comes
    // first: installers check for it and refuse or misbehave (winget 0x8A15010A).
    const pendingReboot = await platform.pendingReboot();
    const checks: PreflightCheck[] = [
      {
        check: 'ac-power',
        ok: !p.requireAcPower || facts.onAcPower !== false,
        detail:
          facts.onAcPower === null ? 'no battery (desktop)' : facts.onAcPower ? 'on AC power' : 'on battery',
      },
      {
        check: 'free-disk',
        ok: facts.freeDiskGb >= p.minFreeDiskGb,
        detail: `${facts.freeDiskGb} GB free on the system drive (needs ${p.minFreeDiskGb} GB)`,
      },
      { check: 'api-reachable', ok: api.ok, detail: api.detail },
      {
        check: 'tpm',
        ok: !p.requireTpm || (facts.tpm.present && facts.tpm.ready),
        detail: !facts.tpm.present
          ? 'no TPM'
          : `TPM ${facts.tpm.version ?? '(version unknown)'} ${facts.tpm.ready ? 'ready' : 'present but not ready (enable and activate it in the firmware)'}`,
      },
      {
        check: 'secure-boot',
        ok: !p.requireSecureBoot || facts.secureBoot === true,
        detail:
          facts.secureBoot === null
            ? 'legacy BIOS: no Secure Boot'
            : facts.secureBoot
              ? 'Secure Boot on'
              : 'Secure Boot off',
      },
      {
        check: 'os-build',
        ok: facts.osBuild >= p.minOsBuild,
        detail: `OS build ${facts.osBuild} (needs ${p.minOsBuild} or later)`,
      },
    ];
    const failed = checks.filter((c) => !c.ok);
    if (failed.length > 0) {
      // The machine must change (power, firmware, disk): trying again by itself will not help,
      // unless the network alone failed.
      throw new StepError(
        StepFailure.PreflightFailed,
        `preflight failed: ${failed.map((c) => `${c.check}: ${c.detail}`).join('; ')}`,
        failed.every((c) => c.check === 'api-reachable'),
      );
    }
    return { checks, ...(pendingReboot.length > 0 ? { pendingReboot, reboot: true } : {}) };
  },

  [StepKind.Rename]: async (platform, { name }, ctx) => {
    const current = await platform.computerName();
    if (current.active.toUpperCase() === name.toUpperCase()) return { alreadyDone: true, reboot: false };
    if (current.pending.toUpperCase() === name.toUpperCase()) return { alreadyDone: true, reboot: true };
    // Rename-Computer on a domain member renames its AD account too, which needs a domain
    // credential (-DomainCredential); none reaches a step until the directory work provides one.
    if (current.domain)
      throw new StepError(
        StepFailure.RenameNeedsDomainCredential,
        `${current.active} is joined to the domain ${current.domain}: renaming it to ${name} needs a domain credential, which Drydock cannot pass yet. Rename it in AD, or turn the identity phase off for this machine`,
        false,
      );
    await ctx.progress(50, `renaming ${current.active} to ${name}`);
    await platform.renameComputer(name);
    return { reboot: true };
  },

  [StepKind.Winget]: async (platform, { id, version }, ctx) => {
    const installed = await platform.wingetInstalledVersion(id);
    if (installed && (!version || installed === version))
      return { alreadyDone: true, exitCode: 0, outcome: `already installed (${installed})` };
    await ctx.progress(20, `winget install ${id}`);
    const { exitCode, output } = await platform.wingetInstall(id, version, ctx.signal);
    const outcome = classifyWingetExit(exitCode);
    const summary = `winget install ${id} exited ${describeExit(exitCode)}`;
    if (outcome === 'reboot-first')
      throw new StepError(
        StepFailure.RebootRequiredFirst,
        `${summary}: the package needs a restart before it installs; restarting, then trying again`,
        true,
      );
    if (outcome === 'retryable')
      throw new StepError(StepFailure.WingetFailed, `${summary}: ${lastLine(output)}`, true);
    if (outcome === 'permanent') {
      throw new StepError(
        exitCode === WingetCode.NoApplicationsFound
          ? StepFailure.WingetPackageNotFound
          : exitCode === WingetCode.DllNotFound
            ? StepFailure.WingetUnavailable
            : StepFailure.WingetFailed,
        `${summary}: ${lastLine(output)}`,
        false,
      );
    }
    // Since winget 1.7 "restart to finish" (MSI 3010 too) exits 0: Windows' own indicators tell.
    const pending = outcome === 'reboot-required' ? [] : await platform.pendingReboot();
    return {
      exitCode,
      outcome: pending.length > 0 ? `${outcome}; restart pending (${pending.join(', ')})` : outcome,
      alreadyDone: outcome === 'already-installed',
      reboot: outcome === 'reboot-required' || pending.length > 0,
    };
  },

  [StepKind.Installer]: async (platform, p, ctx) => {
    // The marker holds the SHA-256 of what was installed: the same pinned installer never runs twice.
    if (sameValue(await platform.registryRead(INSTALLER_MARKER_PATH, p.name), p.sha256.toLowerCase()))
      return { alreadyDone: true };
    await ctx.progress(10, `downloading ${p.name}`);
    let download: { file: string; sha256: string };
    try {
      download = await platform.download(p.url, ctx.signal);
    } catch (err) {
      throw new StepError(
        StepFailure.InstallerDownloadFailed,
        `downloading ${p.name} from ${p.url} failed: ${(err as Error).message}`,
        true,
      );
    }
    // Verified before anything runs: a mismatch is a wrong pin or a tampered file, never retried.
    if (download.sha256 !== p.sha256.toLowerCase()) {
      throw new StepError(
        StepFailure.InstallerHashMismatch,
        `${p.name}: the download's SHA-256 is ${download.sha256}, the profile pins ${p.sha256.toLowerCase()}; not run`,
        false,
      );
    }
    await ctx.progress(50, `running ${p.name}`);
    // The hash is checked again on the file as it is opened to run (a swap after the download fails).
    const exitCode = await platform.runInstaller(
      download.file,
      p.arguments,
      p.sha256.toLowerCase(),
      ctx.signal,
    );
    const outcome = classifyWingetExit(exitCode);
    if (outcome === 'retryable' || outcome === 'permanent' || outcome === 'reboot-first')
      throw new StepError(
        StepFailure.InstallerFailed,
        `${p.name} exited ${describeExit(exitCode)}`,
        outcome !== 'permanent',
      );
    await platform.registryWrite(INSTALLER_MARKER_PATH, p.name, 'String', p.sha256.toLowerCase());
    const pending = outcome === 'reboot-required' ? [] : await platform.pendingReboot();
    return { exitCode, reboot: outcome === 'reboot-required' || pending.length > 0 };
  },

  [StepKind.WingetReady]: async (platform) => {
    const ready = await platform.wingetReady();
    if (!ready.ok) throw new StepError(StepFailure.WingetUnavailable, ready.reason, false);
    return { path: ready.path, version: ready.version, runtime: ready.runtime };
  },

  [StepKind.Tweaks]: async (platform, { tweaks }, ctx) => {
    const facts = await platform.machineFacts();
    const changed: string[] = [];
    const failed: { id: string; message: string }[] = [];
    const skipped: { id: string; reason: string }[] = [];
    let reboot = false;
    // One tweak that cannot be applied is reported and the others still are: no crash of the step.
    const applicable = tweaks.filter((t) => {
      const reason = notApplicable(t.applies, facts);
      if (reason) skipped.push({ id: t.id, reason });
      return !reason;
    });
    // A failure that may pass on another go (not access denied, not an invalid value) makes the
    // step retryable once every tweak was tried: the values already set are found set next time.
    let transient: string | null = null;
    const fail = (id: string, message: string, permanent = true) => {
      if (!permanent) transient ??= `${id}: ${message}`;
      if (!failed.some((f) => f.id === id)) failed.push({ id, message });
    };
    const isPermanent = (err: unknown) => {
      if ((err as { fatal?: boolean }).fatal) throw err;
      return err instanceof PlatformError ? err.permanent : false;
    };
    const setValues = async (batch: TweakSpec[]) => {
      const items: RegistryApplyItem[] = batch.flatMap((t) =>
        t.registry.map((r) => ({ path: r.path, name: r.name, type: r.type, value: r.value, tweak: t.id })),
      );
      if (items.length === 0) return;
      await ctx.progress(40, `setting ${items.length} value(s)`);
      const outcomes = await platform.applyRegistry(items);
      outcomes.forEach((o, i) => {
        const item = items[i]!;
        if (o.error) fail(item.tweak, `${item.path}\\${item.name}: ${o.error.message}`, o.error.permanent);
        else if (o.changed) changed.push(`${item.tweak}: ${item.path}\\${item.name}`);
      });
    };
    // The restore point is taken before anything else changes: its own value first (without it
    // Windows skips a restore point made within 24 hours of the last), then Checkpoint-Computer.
    const restorePoint = applicable.find((t) => t.actions?.includes('restore-point'));
    if (restorePoint) {
      await setValues([restorePoint]);
      if (!failed.some((f) => f.id === restorePoint.id)) {
        try {
          await ctx.progress(20, 'creating a restore point');
          if (await platform.applyTweakAction('restore-point', restorePoint.id))
            changed.unshift(`${restorePoint.id}: restore point`);
        } catch (err) {
          fail(restorePoint.id, `restore point: ${(err as Error).message}`, isPermanent(err));
        }
      }
    }
    for (const tweak of applicable) {
      for (const action of tweak.actions ?? []) {
        if (action === 'restore-point') continue;
        await ctx.progress(30, `${tweak.id}: ${action}`);
        try {
          if (await platform.applyTweakAction(action, tweak.id)) changed.push(`${tweak.id}: ${action}`);
        } catch (err) {
          fail(tweak.id, `${action}: ${(err as Error).message}`, isPermanent(err));
        }
      }
    }
    // Every other value in one batch: the default user hive is loaded once.
    await setValues(applicable.filter((t) => t !== restorePoint));
    // A tweak that waits for a restart or a new sign-in gets one: a restart signs everyone in anew.
    // Owed until this boot ends, whichever run of the step set it (before a transient failure too).
    for (const t of applicable) {
      if (t.needs && changed.some((c) => c.startsWith(`${t.id}: `))) reboot = true;
    }
    const owedValue = `RestartOwed-${await platform.bootId()}`;
    const owed = (await platform.registryRead(TWEAKS_RESTART_PATH, owedValue)) !== null;
    if (reboot && !owed)
      await platform.registryWrite(TWEAKS_RESTART_PATH, owedValue, 'String', ctx.idempotencyKey);
    if (owed) reboot = true;
    if (transient !== null)
      throw new StepError(
        StepFailure.SettingFailed,
        `a setting could not be applied and may be on another try: ${transient}`,
        true,
      );
    return {
      changed,
      ...(failed.length > 0 ? { failed } : {}),
      ...(skipped.length > 0 ? { skipped } : {}),
      alreadyDone: changed.length === 0 && failed.length === 0,
      reboot,
    };
  },

  [StepKind.TweaksUndo]: async (platform, { tweaks }, ctx) => {
    const wanted = tweaks && tweaks.length > 0 ? new Set(tweaks) : null;
    const records = (await platform.tweakRecords()).filter((r) => !wanted || wanted.has(r.tweak));
    await ctx.progress(20, `restoring ${records.length} recorded value(s)`);
    const outcomes = records.length > 0 ? await platform.restoreTweakRecords(records.map((r) => r.key)) : [];
    const restored = outcomes.filter((o) => !o.error).map((o) => o.key);
    const failed = outcomes.flatMap((o) => (o.error ? [{ key: o.key, message: o.error }] : []));
    return {
      restored,
      failed,
      alreadyDone: records.length === 0,
      // Most tweaks take effect at sign-in or restart; so does putting them back.
      reboot: restored.length > 0,
    };
  },

  [StepKind.Locale]: async (platform, p) => {
    const now = await platform.localeState();
    let reboot = false;
    if (now.timeZone !== p.timeZone) await platform.setTimeZone(p.timeZone);
    if (now.locale !== p.locale) {
      await platform.setLocale(p.locale);
      reboot = true; // the system locale takes effect after a restart
    }
    const formats = p.formats ?? p.locale;
    const sameInternational =
      now.keyboards[0]?.toUpperCase() === p.keyboard.toUpperCase() &&
      now.newUser !== undefined &&
      now.newUser.keyboards[0]?.toUpperCase() === p.keyboard.toUpperCase() &&
      now.newUser.formats === formats &&
      (p.homeLocation === undefined || now.newUser.homeLocation === p.homeLocation);
    if (!sameInternational)
      await platform.setInternational({ formats, keyboard: p.keyboard, homeLocation: p.homeLocation ?? 244 });
    return { reboot, alreadyDone: now.timeZone === p.timeZone && !reboot && sameInternational };
  },

  [StepKind.Wifi]: async (platform, { networks }) => {
    // A desktop without Wi-Fi has nothing to configure: reported, not failed.
    if (!(await platform.wifiAdapterPresent()))
      return {
        added: [],
        skipped: networks.map((n) => ({ ssid: n.ssid, reason: 'no Wi-Fi adapter' })),
        alreadyDone: true,
      };
    const facts = await platform.machineFacts();
    const have = new Set(await platform.wifiProfiles());
    const added: string[] = [];
    const skipped: { ssid: string; reason: string }[] = [];
    for (const network of networks) {
      if (have.has(network.ssid)) continue;
      // WLAN profiles know WPA3ENT from Windows 11 on (Microsoft Learn, WLAN_profile authEncryption).
      if (network.authentication === 'wpa3-enterprise' && facts.build < WINDOWS_11_BUILD) {
        skipped.push({
          ssid: network.ssid,
          reason: `WPA3-Enterprise needs Windows 11 (this is build ${facts.build})`,
        });
        continue;
      }
      await platform.addWifiProfile(network);
      added.push(network.ssid);
    }
    return { added, ...(skipped.length > 0 ? { skipped } : {}), alreadyDone: added.length === 0 };
  },

  [StepKind.Inventory]: async (platform, { autopilotHash }, ctx) => {
    await ctx.progress(10, 'reading inventory');
    const inventory = await platform.inventory();
    const hardware = await platform.hardwareFacts();
    if (!autopilotHash) return { ...inventory, hardware };
    await ctx.progress(60, 'harvesting the Autopilot hardware hash');
    return { ...inventory, hardware, autopilot: await platform.autopilotHash() };
  },

  [StepKind.Validate]: async (platform, p) => {
    const items: ValidationItem[] = [];
    const check = (item: string, pass: boolean, detail: string) => items.push({ item, pass, detail });
    if (p.hostname) {
      const name = await platform.computerName();
      check(
        `name ${p.hostname}`,
        name.active.toUpperCase() === p.hostname.toUpperCase(),
        `active name ${name.active}`,
      );
    }
    for (const id of p.apps) {
      const version = await platform.wingetInstalledVersion(id);
      check(`app ${id}`, version !== null, version ? `installed (${version})` : 'not installed');
    }
    for (const inst of p.installers) {
      const marker = await platform.registryRead(INSTALLER_MARKER_PATH, inst.name);
      check(
        `installer ${inst.name}`,
        sameValue(marker, inst.sha256.toLowerCase()),
        marker ? 'installed' : 'not installed',
      );
    }
    let facts: MachineFacts | undefined;
    const machineFacts = async () => (facts ??= await platform.machineFacts());
    const wanted: typeof p.registry = [];
    for (const r of p.registry) {
      const reason = notApplicable(r.applies, await machineFacts());
      if (reason) check(`setting ${r.path}\\${r.name}`, true, `not applicable: ${reason}`);
      else wanted.push(r);
    }
    // One read for all values: HKCU is the default user profile, what a new user gets.
    const values = wanted.length > 0 ? await platform.readRegistry(wanted) : [];
    wanted.forEach((r, i) => {
      const value = values[i] ?? null;
      check(
        `setting ${r.path}\\${r.name}`,
        sameValue(value, r.value),
        `is ${value ?? '(absent)'}, wants ${r.value}`,
      );
    });
    if (p.locale) {
      const now = await platform.localeState();
      const formats = p.locale.formats ?? p.locale.locale;
      check('time zone', now.timeZone === p.locale.timeZone, now.timeZone);
      check('locale', now.locale === p.locale.locale, now.locale);
      check(
        'keyboard',
        now.keyboards[0]?.toUpperCase() === p.locale.keyboard.toUpperCase(),
        now.keyboards.join(', '),
      );
      const newUser = now.newUser;
      check(
        'new user keyboard',
        newUser?.keyboards[0]?.toUpperCase() === p.locale.keyboard.toUpperCase(),
        newUser ? newUser.keyboards.join(', ') || '(none)' : 'unknown',
      );
      check('new user formats', newUser?.formats === formats, newUser?.formats ?? 'unknown');
      if (p.locale.homeLocation !== undefined)
        check(
          'new user home location',
          newUser?.homeLocation === p.locale.homeLocation,
          String(newUser?.homeLocation ?? 'unknown'),
        );
    }
    if (p.wifi.length > 0) {
      const adapter = await platform.wifiAdapterPresent();
      const have = new Set(adapter ? await platform.wifiProfiles() : []);
      const wpa3 = new Set(p.wifiWpa3Enterprise ?? []);
      for (const ssid of p.wifi) {
        if (!adapter) check(`wifi ${ssid}`, true, 'not applicable: no Wi-Fi adapter');
        else if (wpa3.has(ssid) && (await machineFacts()).build < WINDOWS_11_BUILD)
          check(`wifi ${ssid}`, true, 'not applicable: WPA3-Enterprise needs Windows 11');
        else check(`wifi ${ssid}`, have.has(ssid), have.has(ssid) ? 'profile present' : 'missing');
      }
    }
    return { items };
  },

  [StepKind.Reboot]: async (platform, { reason }, ctx) => {
    const bootId = await platform.bootId();
    // Redelivered after the restart it asked for: the marker names an earlier boot, so it is done.
    const marker = await platform.registryRead(REBOOT_MARKER_PATH, ctx.idempotencyKey);
    if (marker !== null && String(marker) !== bootId) return { bootId: String(marker), alreadyDone: true };
    if (marker === null)
      await platform.registryWrite(REBOOT_MARKER_PATH, ctx.idempotencyKey, 'String', bootId);
    await platform.restart(`Drydock provisioning: ${reason ?? 'restart'} [${ctx.idempotencyKey}]`);
    return { bootId };
  },

  [StepKind.BootId]: async (platform) => ({ bootId: await platform.bootId() }),

  ...profileSteps,
  ...gatewaySteps,
  ...escrowSteps,
  ...agentPushSteps,
  ...joinSteps,
};

function lastLine(output: string): string {
  const lines = output.trim().split(/\r?\n/);
  return (lines[lines.length - 1] ?? '').slice(0, 300);
}

const known = new Set<string>(Object.values(StepKind));
const isStepKind = (kind: string): kind is StepKind => known.has(kind);

/**
 * Runs one task as it came over the wire: a kind this agent knows, with a payload that fits the
 * kind's schema (infra/wire/step-payloads.ts), else a permanent failure and nothing runs. The
 * platform hears of every step that starts (`Platform.stepStarted`). A known kind gets its typed result.
 */
export function runStep<K extends StepKind>(
  platform: Platform,
  kind: K,
  payload: unknown,
  ctx: StepContext,
): Promise<StepResults[K]>;
export function runStep(
  platform: Platform,
  kind: string,
  payload: unknown,
  ctx: StepContext,
): Promise<StepResults[StepKind]>;
export async function runStep(platform: Platform, kind: string, payload: unknown, ctx: StepContext) {
  if (!isStepKind(kind))
    throw new StepError(StepFailure.UnknownStep, `this agent does not know the step "${kind}"`, false);
  return runKnownStep(platform, kind, payload, ctx);
}

async function runKnownStep<K extends StepKind>(
  platform: Platform,
  kind: K,
  payload: unknown,
  ctx: StepContext,
): Promise<StepResults[K]> {
  if (!isStepPayload(kind, payload))
    throw new StepError(
      StepFailure.InvalidPayload,
      `this agent cannot run the ${kind} step: its payload does not fit (${checkStepPayload(kind, payload)}); update the agent`,
      false,
    );
  platform.stepStarted?.(ctx.idempotencyKey, kind);
  const handler: StepHandler<K> = steps[kind];
  return handler(platform, payload, ctx);
}
