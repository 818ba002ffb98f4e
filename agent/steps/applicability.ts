import type { EditionFamily, TweakApplicability } from '../../infra/wire/agent-steps';
import type { MachineFacts } from '../platform/platform';

/**
 * EditionID (HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion) to the families the catalogue
 * names. LTSC/LTSB editions end in "S" (EnterpriseS, IoTEnterpriseS); "N" editions end in "N".
 */
export function editionFamily(editionId: string): EditionFamily {
  const id = editionId.replace(/N$/, '');
  if (/^(Core|CoreSingleLanguage|CoreCountrySpecific)$/i.test(id)) return 'home';
  if (/^(Professional|ProfessionalWorkstation|ProfessionalEducation)$/i.test(id)) return 'pro';
  if (/^(IoT)?EnterpriseS$/i.test(editionId)) return 'ltsc';
  if (/^(Enterprise|IoTEnterprise|EnterpriseG|ServerRdsh)$/i.test(id)) return 'enterprise';
  if (/^Education$/i.test(id)) return 'education';
  return 'other';
}

/** Windows 11 is build 22000 and later; WLAN profiles know WPA3ENT from there on. */
export const WINDOWS_11_BUILD = 22000;

/** Why a tweak does not apply to this machine, or null when it does. */
export function notApplicable(applies: TweakApplicability | undefined, facts: MachineFacts): string | null {
  if (!applies) return null;
  if (applies.editions && !applies.editions.includes(editionFamily(facts.editionId)))
    return `not honoured on the ${facts.editionId} edition (only ${applies.editions.join(', ')})`;
  if (applies.minBuild !== undefined && facts.build < applies.minBuild)
    return `needs Windows build ${applies.minBuild} or later (this is ${facts.build})`;
  if (applies.desktopOnly && facts.hasBattery) return 'not on a machine with a battery (Modern Standby)';
  return null;
}
