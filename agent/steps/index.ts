import {
  INSTALLER_MARKER_PATH,
  StepFailure,
  StepKind,
  type InstallerPayload,
  type InventoryPayload,
  type LocalePayload,
  type PreflightCheck,
  type PreflightPayload,
  type PreflightResult,
  type RebootResult,
  type RenamePayload,
  type TweaksPayload,
  type TweaksResult,
  type ValidatePayload,
  type ValidateResult,
  type ValidationItem,
  type WifiPayload,
  type WingetPayload,
  type WingetResult,
} from '../../infra/wire/agent-steps';
import { StepError, type Platform, type StepContext } from '../platform/platform';
import type { SimulatedPlatform } from '../platform/simulated/simulated-host';
import { classifyWingetExit, describeExit, WingetCode } from './winget-codes';

export type StepHandler = (
  platform: Platform,
  payload: Record<string, unknown>,
  ctx: StepContext,
) => Promise<Record<string, unknown>>;

/** Where the reboot step remembers which boot it restarted, so a redelivery does not restart again. */
const REBOOT_MARKER_PATH = 'HKLM:\\SOFTWARE\\Drydock\\Reboots';

const sameValue = (a: unknown, b: unknown) => a !== null && String(a) === String(b);

/**
 * The steps this agent runs, by task kind. Delivery is at-least-once (a crash or a reboot in the
 * middle re-runs a step), so every step checks, then acts: a second run finds the work done and
 * changes nothing. Failures say whether trying again can help (StepError.retryable).
 */
export const steps: Record<string, StepHandler> = {
  [StepKind.Preflight]: async (platform, raw, ctx) => {
    const p = raw as unknown as PreflightPayload;
    await ctx.progress(10, 'checking power, disk, TPM, Secure Boot and OS build');
    const facts = await platform.preflightFacts();
    const api = await ctx.checkApi();
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
    const result: PreflightResult = { checks };
    return result as unknown as Record<string, unknown>;
  },

  [StepKind.Rename]: async (platform, raw, ctx) => {
    const { name } = raw as unknown as RenamePayload;
    const current = await platform.computerName();
    if (current.active.toUpperCase() === name.toUpperCase()) return { alreadyDone: true, reboot: false };
    if (current.pending.toUpperCase() === name.toUpperCase()) return { alreadyDone: true, reboot: true };
    await ctx.progress(50, `renaming ${current.active} to ${name}`);
    await platform.renameComputer(name);
    return { reboot: true };
  },

  [StepKind.Winget]: async (platform, raw, ctx) => {
    const { id, version } = raw as unknown as WingetPayload;
    const installed = await platform.wingetInstalledVersion(id);
    if (installed && (!version || installed === version)) {
      const done: WingetResult = {
        alreadyDone: true,
        exitCode: 0,
        outcome: `already installed (${installed})`,
      };
      return done as unknown as Record<string, unknown>;
    }
    await ctx.progress(20, `winget install ${id}`);
    const { exitCode, output } = await platform.wingetInstall(id, version);
    const outcome = classifyWingetExit(exitCode);
    const summary = `winget install ${id} exited ${describeExit(exitCode)}`;
    if (outcome === 'retryable')
      throw new StepError(StepFailure.WingetFailed, `${summary}: ${lastLine(output)}`, true);
    if (outcome === 'permanent') {
      throw new StepError(
        exitCode === WingetCode.NoApplicationsFound
          ? StepFailure.WingetPackageNotFound
          : StepFailure.WingetFailed,
        `${summary}: ${lastLine(output)}`,
        false,
      );
    }
    const result: WingetResult = {
      exitCode,
      outcome,
      alreadyDone: outcome === 'already-installed',
      reboot: outcome === 'reboot-required',
    };
    return result as unknown as Record<string, unknown>;
  },

  [StepKind.Installer]: async (platform, raw, ctx) => {
    const p = raw as unknown as InstallerPayload;
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
    const exitCode = await platform.runInstaller(download.file, p.arguments);
    const outcome = classifyWingetExit(exitCode);
    if (outcome === 'retryable' || outcome === 'permanent')
      throw new StepError(
        StepFailure.InstallerFailed,
        `${p.name} exited ${describeExit(exitCode)}`,
        outcome === 'retryable',
      );
    await platform.registryWrite(INSTALLER_MARKER_PATH, p.name, 'String', p.sha256.toLowerCase());
    return { exitCode, reboot: outcome === 'reboot-required' };
  },

  [StepKind.Tweaks]: async (platform, raw, ctx) => {
    const { tweaks } = raw as unknown as TweaksPayload;
    const changed: string[] = [];
    let i = 0;
    for (const tweak of tweaks) {
      await ctx.progress(Math.round((i++ / Math.max(1, tweaks.length)) * 100), tweak.id);
      for (const r of tweak.registry) {
        if (sameValue(await platform.registryRead(r.path, r.name), r.value)) continue;
        await platform.registryWrite(r.path, r.name, r.type, r.value);
        changed.push(`${tweak.id}: ${r.path}\\${r.name}`);
      }
    }
    const result: TweaksResult = { changed, alreadyDone: changed.length === 0 };
    return result as unknown as Record<string, unknown>;
  },

  [StepKind.Locale]: async (platform, raw) => {
    const p = raw as unknown as LocalePayload;
    const now = await platform.localeState();
    let reboot = false;
    if (now.timeZone !== p.timeZone) await platform.setTimeZone(p.timeZone);
    if (now.locale !== p.locale) {
      await platform.setLocale(p.locale);
      reboot = true; // the system locale takes effect after a restart
    }
    const sameKeyboard = now.keyboards[0]?.toUpperCase() === p.keyboard.toUpperCase();
    if (!sameKeyboard) await platform.setKeyboard(p.keyboard);
    return { reboot, alreadyDone: now.timeZone === p.timeZone && !reboot && sameKeyboard };
  },

  [StepKind.Wifi]: async (platform, raw) => {
    const { networks } = raw as unknown as WifiPayload;
    const have = new Set(await platform.wifiProfiles());
    const added: string[] = [];
    for (const network of networks) {
      if (have.has(network.ssid)) continue;
      await platform.addWifiProfile(network);
      added.push(network.ssid);
    }
    return { added, alreadyDone: added.length === 0 };
  },

  [StepKind.Inventory]: async (platform, raw, ctx) => {
    const p = raw as unknown as Partial<InventoryPayload>;
    await ctx.progress(10, 'reading inventory');
    const inventory = await platform.inventory();
    const out: Record<string, unknown> = { ...inventory, hardware: await platform.hardwareFacts() };
    if (p.autopilotHash) {
      await ctx.progress(60, 'harvesting the Autopilot hardware hash');
      out.autopilot = await platform.autopilotHash();
    }
    return out;
  },

  [StepKind.Validate]: async (platform, raw) => {
    const p = raw as unknown as ValidatePayload;
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
    for (const r of p.registry) {
      const value = await platform.registryRead(r.path, r.name);
      check(
        `setting ${r.path}\\${r.name}`,
        sameValue(value, r.value),
        `is ${value ?? '(absent)'}, wants ${r.value}`,
      );
    }
    if (p.locale) {
      const now = await platform.localeState();
      check('time zone', now.timeZone === p.locale.timeZone, now.timeZone);
      check('locale', now.locale === p.locale.locale, now.locale);
      check(
        'keyboard',
        now.keyboards[0]?.toUpperCase() === p.locale.keyboard.toUpperCase(),
        now.keyboards.join(', '),
      );
    }
    if (p.wifi.length > 0) {
      const have = new Set(await platform.wifiProfiles());
      for (const ssid of p.wifi)
        check(`wifi ${ssid}`, have.has(ssid), have.has(ssid) ? 'profile present' : 'missing');
    }
    const result: ValidateResult = { items };
    return result as unknown as Record<string, unknown>;
  },

  [StepKind.Reboot]: async (platform, raw, ctx) => {
    const bootId = await platform.bootId();
    // Redelivered after the restart it asked for: the marker names an earlier boot, so it is done.
    const marker = await platform.registryRead(REBOOT_MARKER_PATH, ctx.idempotencyKey);
    if (marker !== null && String(marker) !== bootId) {
      const done: RebootResult = { bootId: String(marker), alreadyDone: true };
      return done as unknown as Record<string, unknown>;
    }
    if (marker === null)
      await platform.registryWrite(REBOOT_MARKER_PATH, ctx.idempotencyKey, 'String', bootId);
    await platform.restart(
      `Drydock provisioning: ${String(raw.reason ?? 'restart')} [${ctx.idempotencyKey}]`,
    );
    const result: RebootResult = { bootId };
    return result as unknown as Record<string, unknown>;
  },

  [StepKind.BootId]: async (platform) => ({ bootId: await platform.bootId() }),
};

function lastLine(output: string): string {
  const lines = output.trim().split(/\r?\n/);
  return (lines[lines.length - 1] ?? '').slice(0, 300);
}

export async function runStep(
  platform: Platform,
  kind: string,
  payload: Record<string, unknown>,
  ctx: StepContext,
) {
  const handler = steps[kind];
  if (!handler)
    throw new StepError(StepFailure.UnknownStep, `this agent does not know the step "${kind}"`, false);
  if (platform.kind === 'simulated') (platform as SimulatedPlatform).recordExecution(ctx.idempotencyKey);
  return handler(platform, payload, ctx);
}
