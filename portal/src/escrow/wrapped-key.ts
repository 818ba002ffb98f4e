import { unwrapTenantKey, type TenantKey } from '../../../infra/wire/escrow-envelope';
import { ApiError, gql } from '../api';
import { graphql } from '../gql';

const WrappedKeyQuery = graphql(`
  query EscrowWrappedKey($keyVersion: Int) {
    escrowKey(keyVersion: $keyVersion) {
      keyVersion
      wrappedPrivateKey
    }
  }
`);

/**
 * Opens one version of the tenant escrow key with its passphrase, in this page (ADR 0046): the
 * wrapped blob is fetched (reveal-secrets holders only) and unwrapped here as a non-extractable key.
 * ESCROW_BAD_PASSPHRASE when the passphrase does not open it; NOT_FOUND when the caller may not
 * have the blob or the version was destroyed.
 */
export async function openWrappedKey(
  tenantId: string,
  keyVersion: number,
  passphrase: string,
): Promise<TenantKey> {
  const blob = (await gql(WrappedKeyQuery, { keyVersion })).escrowKey?.wrappedPrivateKey;
  if (!blob) throw new ApiError('NOT_FOUND', `escrow key version ${keyVersion} is not available to you`);
  return unwrapTenantKey(blob, passphrase, { tenantId, keyVersion });
}
