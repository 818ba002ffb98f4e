import { PHASE_ORDER, resolveProfile, standardProfile } from '../../infra/provisioning/profile';
import { standardTweakIds, tweakCatalogue } from '../../infra/provisioning/tweaks';

describe('profiles', () => {
  it('the built-in Standard profile is valid and selects the seed’s Standard tweaks', () => {
    const result = resolveProfile([]);
    expect(result.ok).toBe(true);
    expect(result.ok && result.profile).toEqual(standardProfile);
    expect(standardTweakIds).toEqual(
      expect.arrayContaining(['disable-telemetry', 'dark-theme', 'numlock-on', 'show-file-extensions']),
    );
    expect(standardTweakIds[0]).toBe('create-restore-point');
    expect(standardTweakIds).toContain('end-task-right-click');
    expect(standardTweakIds).not.toContain('disable-wifi-sense');
    expect(standardTweakIds).not.toContain('show-hidden-files');
  });

  it('merges tenant ⊕ client ⊕ site ⊕ profile ⊕ machine: objects key by key, arrays replaced, last wins', () => {
    const result = resolveProfile([
      {
        phases: {
          locale: { timeZone: 'W. Europe Standard Time' },
          apps: { winget: [{ id: 'Mozilla.Firefox' }] },
        },
      }, // tenant
      { phases: { locale: { locale: 'nl-NL' } } }, // client
      { phases: { identity: { nameTemplate: 'AMS-{SEQ3}' } } }, // site
      { phases: { drivers: { enabled: true } } }, // profile
      { phases: { locale: { timeZone: 'GMT Standard Time' } } }, // this machine
    ]);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.profile.phases.locale).toEqual({
      enabled: true,
      timeZone: 'GMT Standard Time',
      locale: 'nl-NL',
      wifi: [],
      keyboard: '0409:00000409',
      homeLocation: 244,
    });
    expect(result.profile.phases.apps.winget).toEqual([{ id: 'Mozilla.Firefox' }]);
    expect(result.profile.phases.identity.nameTemplate).toBe('AMS-{SEQ3}');
    expect(result.profile.phases.drivers.enabled).toBe(true);
  });

  it('refuses an invalid profile with every error listed by path', () => {
    const result = resolveProfile([
      {
        phases: {
          identity: { nameTemplate: 'THIS-NAME-IS-WAY-TOO-LONG' },
          apps: { installers: [{ name: 'Agent', url: 'http://example.invalid/a.msi', sha256: 'abc' }] },
          tweaks: { selected: ['disable-telemetry', 'disable-bitlocker'] },
          locale: { locale: 'english' },
          bogus: { enabled: true },
        },
      },
    ]);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const paths = result.errors.map((e) => e.path).sort();
    expect(paths).toEqual(
      [
        'phases',
        'phases.apps.installers.0.sha256',
        'phases.apps.installers.0.url',
        'phases.identity.nameTemplate',
        'phases.locale.locale',
        'phases.tweaks.selected.1',
      ].sort(),
    );
    expect(result.errors.find((e) => e.path === 'phases.identity.nameTemplate')!.message).toMatch(
      /15 characters/,
    );
    expect(result.errors.find((e) => e.path === 'phases')!.message).toMatch(/bogus/);
  });

  it('refuses what the agent could never run, and normalises the keyboard as Windows reports it', () => {
    const result = resolveProfile([
      {
        phases: {
          identity: { nameTemplate: 'PC-{SERIAL}' },
          apps: {
            winget: [{ id: 'chrome' }],
            installers: [{ name: 'T', url: 'https://x.example/tool.zip', sha256: 'a'.repeat(64) }],
          },
        },
      },
    ]);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.map((e) => e.path)).toEqual([
      'phases.identity.nameTemplate',
      'phases.apps.winget.0.id',
      'phases.apps.installers.0.url',
    ]);
    expect(result.errors[0]!.message).toContain('unknown token');
    const ok = resolveProfile([{ phases: { locale: { keyboard: '0c0c:00001009' } } }]);
    expect(ok.ok && ok.profile.phases.locale.keyboard).toBe('0C0C:00001009');
  });

  it('ignores prototype keys in layers', () => {
    const layer = JSON.parse('{"__proto__": {"polluted": true}, "phases": {"drivers": {"enabled": true}}}');
    expect(resolveProfile([layer]).ok).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('orders phases as the architecture does, security and join before apps', () => {
    expect(PHASE_ORDER.indexOf('security')).toBeLessThan(PHASE_ORDER.indexOf('apps'));
    expect(PHASE_ORDER[0]).toBe('preflight');
    expect(PHASE_ORDER.at(-1)).toBe('validation');
  });
});

describe('the tweak catalogue', () => {
  it('has unique ids, a source for every tweak, and nothing that touches disk encryption', () => {
    expect(new Set(tweakCatalogue.map((t) => t.id)).size).toBe(tweakCatalogue.length);
    for (const tweak of tweakCatalogue) {
      expect(tweak.registry.length).toBeGreaterThan(0);
      expect(tweak.source).toMatch(/WinUtil|Microsoft Learn/);
      for (const change of tweak.registry) {
        // Widgets: the UCPD-blocked Explorer\Advanced\TaskbarDa is never written.
        expect(change.name).not.toBe('TaskbarDa');
        expect(`${change.path}\\${change.name}`).not.toMatch(/bitlocker|fve|encrypt/i);
      }
    }
  });
});
