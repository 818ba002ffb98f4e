import { EntitySchema } from '@mikro-orm/core';
import { tenantFilter } from './tenant-scoped';

export type InstallerKind = 'exe' | 'msi';

/** A built, signed per-site installer: one per (site, agent version, key version, kind). */
export interface SiteInstaller {
  id: string;
  tenantId: string;
  siteId: string;
  agentVersion: string;
  keyVersion: number;
  fingerprint: string;
  kind: InstallerKind;
  fileName: string;
  sha256: string;
  sizeBytes: number;
  /** Where the file is, under DRYDOCK_DATA_DIR (it carries the site's enrollment key). */
  storagePath: string;
  builtAt: Date;
}

export const SiteInstallerSchema = new EntitySchema<SiteInstaller>({
  name: 'SiteInstaller',
  tableName: 'site_installers',
  filters: tenantFilter(),
  properties: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid' },
    siteId: { type: 'uuid' },
    agentVersion: { type: 'string' },
    keyVersion: { type: 'number' },
    fingerprint: { type: 'string' },
    kind: { type: 'string' },
    fileName: { type: 'string' },
    sha256: { type: 'string' },
    sizeBytes: { type: 'number' },
    storagePath: { type: 'string', hidden: true },
    builtAt: { type: 'Date', onCreate: () => new Date() },
  },
});
