/* eslint-disable */
import * as types from './graphql';



/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  query EscrowWrappedKey($keyVersion: Int) {\n    escrowKey(keyVersion: $keyVersion) {\n      keyVersion\n      wrappedPrivateKey\n    }\n  }\n": typeof types.EscrowWrappedKeyDocument,
    "\n  query Audit {\n    auditEvents(last: 500) {\n      seq\n      occurredAt\n      actor\n      action\n      subjectType\n      subjectId\n      hash\n    }\n  }\n": typeof types.AuditDocument,
    "\n  query VerifyAuditChain {\n    auditChain {\n      ok\n      events\n      headSeq\n      brokenAtSeq\n      problem\n    }\n  }\n": typeof types.VerifyAuditChainDocument,
    "\n  query Dashboard {\n    clients {\n      id\n      name\n      sites {\n        id\n        name\n        code\n      }\n    }\n    machineCounts {\n      siteId\n      online\n      offline\n      pending\n      retired\n    }\n    fleetRuns(first: 100) {\n      id\n      status\n      createdAt\n      total\n      passed\n      failed\n      cancelled\n    }\n    alerts(last: 10) {\n      id\n      kind\n      message\n      createdAt\n    }\n  }\n": typeof types.DashboardDocument,
    "\n  query EscrowKeyStatus {\n    escrowKey {\n      keyVersion\n      publicKey\n      fingerprint\n      kdfName\n      kdfIterations\n      createdBy\n      createdAt\n    }\n  }\n": typeof types.EscrowKeyStatusDocument,
    "\n  query EscrowKeyVersions {\n    escrowKeys {\n      keyVersion\n      fingerprint\n      createdBy\n      createdAt\n      retiredAt\n      destroyedAt\n      sealedSecrets\n    }\n  }\n": typeof types.EscrowKeyVersionsDocument,
    "\n  mutation EscrowRewrapBatch($limit: Int) {\n    escrowRewrapBatch(limit: $limit) {\n      toKeyVersion\n      remaining\n      secrets {\n        id\n        machineId\n        kind\n        secretVersion\n        keyVersion\n        envelope\n      }\n    }\n  }\n": typeof types.EscrowRewrapBatchDocument,
    "\n  mutation SubmitRewrappedSecrets($input: SubmitRewrappedSecretsInput!) {\n    submitRewrappedSecrets(input: $input) {\n      stored\n      remaining\n      toKeyVersion\n    }\n  }\n": typeof types.SubmitRewrappedSecretsDocument,
    "\n  mutation DestroyEscrowKey($keyVersion: Int!) {\n    destroyEscrowKey(keyVersion: $keyVersion) {\n      keyVersion\n      destroyedAt\n    }\n  }\n": typeof types.DestroyEscrowKeyDocument,
    "\n  mutation SetupEscrowKey($input: SetupEscrowKeyInput!) {\n    setupEscrowKey(input: $input) {\n      keyVersion\n      fingerprint\n    }\n  }\n": typeof types.SetupEscrowKeyDocument,
    "\n  query EscrowKeyForRecovery($keyVersion: Int) {\n    escrowKey(keyVersion: $keyVersion) {\n      keyVersion\n      publicKey\n      fingerprint\n      retiredAt\n    }\n  }\n": typeof types.EscrowKeyForRecoveryDocument,
    "\n  mutation ReplaceWrappedEscrowKey($keyVersion: Int!, $wrappedPrivateKey: String!) {\n    replaceWrappedEscrowKey(keyVersion: $keyVersion, wrappedPrivateKey: $wrappedPrivateKey) {\n      keyVersion\n      fingerprint\n    }\n  }\n": typeof types.ReplaceWrappedEscrowKeyDocument,
    "\n  query SiteJoinCredential($siteId: ID!) {\n    siteJoinCredential(siteId: $siteId) {\n      domain\n      user\n      version\n    }\n  }\n": typeof types.SiteJoinCredentialDocument,
    "\n  mutation SetJoinCredential($input: SetJoinCredentialInput!) {\n    setJoinCredential(input: $input) {\n      domain\n      user\n      version\n    }\n  }\n": typeof types.SetJoinCredentialDocument,
    "\n  query MachineDetail($id: ID!) {\n    machine(id: $id) {\n      id\n      hostname\n      machineUid\n      status\n      pendingKind\n      pendingReason\n      replacesMachineId\n      siteId\n      agentVersion\n      lastSeenAt\n      createdAt\n      inventoryJson\n      autopilotHashCsv\n      requestedBy {\n        at\n        hostname\n        sourceIp\n        siteCode\n        keyVersion\n      }\n    }\n    machineRuns(machineId: $id) {\n      id\n      status\n      phase\n      step\n      attempt\n      profileVersion\n      startedAt\n      finishedAt\n      lastError {\n        code\n        sentence\n      }\n    }\n    sites {\n      id\n      code\n      name\n    }\n  }\n": typeof types.MachineDetailDocument,
    "\n  mutation ApproveMachine($id: ID!, $asReplacement: Boolean) {\n    approveMachine(id: $id, asReplacement: $asReplacement) {\n      id\n      status\n    }\n  }\n": typeof types.ApproveMachineDocument,
    "\n  mutation RejectMachine($id: ID!) {\n    rejectMachine(id: $id) {\n      id\n      status\n    }\n  }\n": typeof types.RejectMachineDocument,
    "\n  mutation RevokeAgentKey($machineId: ID!) {\n    revokeAgentKey(machineId: $machineId)\n  }\n": typeof types.RevokeAgentKeyDocument,
    "\n  query EscrowedSecrets($machineId: ID!) {\n    escrowedSecrets(machineId: $machineId) {\n      id\n      kind\n      secretVersion\n      keyVersion\n      account\n      protectorId\n      createdAt\n      confirmedAt\n      reveals {\n        actor\n        at\n      }\n    }\n  }\n": typeof types.EscrowedSecretsDocument,
    "\n  mutation RevealSecret($id: ID!) {\n    revealSecret(id: $id) {\n      id\n      tenantId\n      machineId\n      kind\n      secretVersion\n      keyVersion\n      envelope\n    }\n  }\n": typeof types.RevealSecretDocument,
    "\n  query Machines(\n    $first: Int\n    $offset: Int\n    $search: String\n    $filter: MachineFilter\n    $siteId: ID\n    $sort: MachineSort\n    $descending: Boolean\n  ) {\n    machinePage(\n      first: $first\n      offset: $offset\n      search: $search\n      filter: $filter\n      siteId: $siteId\n      sort: $sort\n      descending: $descending\n    ) {\n      total\n      machines {\n        id\n        hostname\n        status\n        pendingKind\n        siteId\n        lastSeenAt\n        agentVersion\n      }\n    }\n    sites {\n      id\n      code\n      name\n    }\n  }\n": typeof types.MachinesDocument,
    "\n  query Migrations($machineId: ID) {\n    profileMigrations(machineId: $machineId, first: 100) {\n      id\n      machineId\n      batchId\n      mode\n      source\n      targetJson\n      targetSid\n      retire\n      status\n      state\n      updatedAt\n      finishedAt\n      lastError {\n        code\n        sentence\n        message\n      }\n    }\n    machines {\n      id\n      hostname\n      status\n    }\n  }\n": typeof types.MigrationsDocument,
    "\n  query MigrationBatch($id: ID!) {\n    profileMigrationBatch(id: $id) {\n      id\n      mode\n      status\n      total\n      concurrency\n      running\n      createdBy\n      createdAt\n      finishedAt\n      counts {\n        status\n        count\n      }\n      migrations {\n        id\n        machineId\n        batchId\n        mode\n        source\n        targetJson\n        targetSid\n        retire\n        status\n        state\n        updatedAt\n        finishedAt\n        lastError {\n          code\n          sentence\n          message\n        }\n      }\n    }\n  }\n": typeof types.MigrationBatchDocument,
    "\n  query Migration($id: ID!) {\n    profileMigration(id: $id) {\n      id\n      machineId\n      batchId\n      workflowId\n      mode\n      source\n      targetJson\n      sourceSid\n      targetSid\n      retire\n      status\n      state\n      backupChecksum\n      notMovable {\n        item\n        reason\n      }\n      restored\n      lastError {\n        type\n        code\n        sentence\n        message\n      }\n      createdBy\n      updatedAt\n      finishedAt\n    }\n  }\n": typeof types.MigrationDocument,
    "\n  mutation StartProfileMigration($input: StartProfileMigrationInput!) {\n    startProfileMigration(input: $input) {\n      id\n      status\n    }\n  }\n": typeof types.StartProfileMigrationDocument,
    "\n  mutation DecideProfileMigration($id: ID!, $decision: String!) {\n    decideProfileMigration(id: $id, decision: $decision) {\n      id\n    }\n  }\n": typeof types.DecideProfileMigrationDocument,
    "\n  mutation CancelProfileMigration($id: ID!) {\n    cancelProfileMigration(id: $id)\n  }\n": typeof types.CancelProfileMigrationDocument,
    "\n  query PasswordRotationSchedule($id: ID!) {\n    passwordRotationSchedule(id: $id, scope: SITE) {\n      scheduleId\n      intervalDays\n      nextRunAt\n    }\n  }\n": typeof types.PasswordRotationScheduleDocument,
    "\n  mutation SetPasswordRotationSchedule($id: ID!, $intervalDays: Int) {\n    setPasswordRotationSchedule(id: $id, scope: SITE, intervalDays: $intervalDays) {\n      scheduleId\n      intervalDays\n      nextRunAt\n    }\n  }\n": typeof types.SetPasswordRotationScheduleDocument,
    "\n  mutation RotateSitePasswords($id: ID!) {\n    rotateLocalAdminPasswords(id: $id, scope: SITE) {\n      workflowId\n    }\n  }\n": typeof types.RotateSitePasswordsDocument,
    "\n  query Profiles {\n    profiles {\n      id\n      name\n      version\n      createdAt\n      createdBy\n      documentJson\n      resolvedJson\n    }\n    clients {\n      id\n      name\n      sites {\n        id\n        code\n      }\n    }\n  }\n": typeof types.ProfilesDocument,
    "\n  query ValidateProfile($documentJson: String!) {\n    validateProfile(documentJson: $documentJson) {\n      path\n      message\n      code\n    }\n  }\n": typeof types.ValidateProfileDocument,
    "\n  mutation SaveProfile($name: String!, $documentJson: String!) {\n    saveProfile(name: $name, documentJson: $documentJson) {\n      id\n      version\n    }\n  }\n": typeof types.SaveProfileDocument,
    "\n  mutation SetProfileLayer($scope: ProfileLayerScope!, $id: ID, $documentJson: String!) {\n    setProfileLayer(scope: $scope, id: $id, documentJson: $documentJson)\n  }\n": typeof types.SetProfileLayerDocument,
    "\n  query FleetRuns {\n    fleetRuns(first: 50) {\n      id\n      status\n      createdAt\n      createdBy\n      finishedAt\n      total\n      passed\n      failed\n      cancelled\n      skipped\n      concurrency\n      profileId\n    }\n    profiles {\n      id\n      name\n      version\n    }\n  }\n": typeof types.FleetRunsDocument,
    "\n  query RunWizard {\n    clients {\n      id\n      name\n      sites {\n        id\n        code\n        name\n      }\n    }\n    machines {\n      id\n      hostname\n      siteId\n      status\n    }\n    profiles {\n      id\n      name\n      version\n      createdAt\n    }\n  }\n": typeof types.RunWizardDocument,
    "\n  mutation StartFleetRun($input: FleetRunStartInput!) {\n    startFleetRun(input: $input) {\n      id\n      total\n      skipped\n    }\n  }\n": typeof types.StartFleetRunDocument,
    "\n  query FleetRun($id: ID!) {\n    fleetRun(id: $id) {\n      id\n      status\n      workflowId\n      createdAt\n      createdBy\n      finishedAt\n      concurrency\n      total\n      passed\n      failed\n      cancelled\n      skipped\n      progress {\n        state\n        total\n        queued\n        running\n        passed\n        failed\n        cancelled\n        paused\n      }\n      machineRuns(first: 1000) {\n        id\n        seq\n        machineId\n        status\n        phase\n        step\n        attempt\n        hostname\n        lastError {\n          code\n          sentence\n        }\n      }\n    }\n  }\n": typeof types.FleetRunDocument,
    "\n  subscription FleetRunProgressFeed($id: ID!) {\n    fleetRunProgress(id: $id) {\n      state\n      total\n      queued\n      running\n      passed\n      failed\n      cancelled\n      paused\n      batches\n      closedInTemporal\n      lateSignals\n      recovered\n    }\n  }\n": typeof types.FleetRunProgressFeedDocument,
    "\n  mutation ControlFleetRun($id: ID!, $action: RunControl!) {\n    controlFleetRun(id: $id, action: $action) {\n      id\n      status\n    }\n  }\n": typeof types.ControlFleetRunDocument,
    "\n  query MachineRun($id: ID!) {\n    machineRun(id: $id) {\n      id\n      machineId\n      fleetRunId\n      workflowId\n      status\n      phase\n      step\n      attempt\n      profileVersion\n      startedAt\n      finishedAt\n      progressJson\n      lastError {\n        code\n        type\n        sentence\n        message\n        step\n      }\n      validation {\n        item\n        result\n        detail\n      }\n    }\n  }\n": typeof types.MachineRunDocument,
    "\n  mutation RetryMachineRun($id: ID!, $fromStep: String, $refreshConfig: Boolean) {\n    retryMachineRun(id: $id, fromStep: $fromStep, refreshConfig: $refreshConfig)\n  }\n": typeof types.RetryMachineRunDocument,
    "\n  mutation ControlMachineRun($id: ID!, $action: RunControl!) {\n    controlMachineRun(id: $id, action: $action) {\n      id\n      status\n    }\n  }\n": typeof types.ControlMachineRunDocument,
    "\n  mutation RotateBitLockerRecoveryPassword($machineId: ID!) {\n    rotateBitLockerRecoveryPassword(machineId: $machineId) {\n      workflowId\n      joined\n    }\n  }\n": typeof types.RotateBitLockerRecoveryPasswordDocument,
    "\n  mutation RotateLocalAdminPassword($machineId: ID!) {\n    rotateLocalAdminPassword(machineId: $machineId) {\n      workflowId\n      joined\n    }\n  }\n": typeof types.RotateLocalAdminPasswordDocument,
    "\n  mutation UpdateBranding($input: BrandingInput!) {\n    updateBranding(input: $input) {\n      displayName\n      logoUrl\n      accentColor\n    }\n  }\n": typeof types.UpdateBrandingDocument,
    "\n  query SiteDiscoveryPage($siteId: ID!) {\n    site(id: $siteId) {\n      id\n      code\n      name\n    }\n    siteDiscovery(siteId: $siteId) {\n      workflowId\n      running\n      state\n      domain {\n        domain\n        site\n        certificateSha256\n        domainControllers {\n          host\n          addresses\n        }\n      }\n      tried\n      credentialVersion\n      reminders\n      lastRefusal\n      lastError\n      enumeration {\n        computers\n        added\n        updated\n        disappeared\n      }\n    }\n    discoveredHosts(siteId: $siteId) {\n      id\n      source\n      name\n      dnsName\n      os\n      role\n      enabled\n      lastLogonAt\n      machineId\n      disappearedAt\n      deployState\n      deployReason\n    }\n  }\n": typeof types.SiteDiscoveryPageDocument,
    "\n  mutation StartSiteDiscovery($siteId: ID!, $resolvers: [String!], $searchSuffixes: [String!]) {\n    startSiteDiscovery(siteId: $siteId, resolvers: $resolvers, searchSuffixes: $searchSuffixes) {\n      state\n    }\n  }\n": typeof types.StartSiteDiscoveryDocument,
    "\n  mutation EnumerateDirectoryNow($siteId: ID!) {\n    enumerateDirectoryNow(siteId: $siteId)\n  }\n": typeof types.EnumerateDirectoryNowDocument,
    "\n  mutation AddManualHost($input: AddManualHostInput!) {\n    addManualHost(input: $input) {\n      id\n    }\n  }\n": typeof types.AddManualHostDocument,
    "\n  mutation DeployAgents($input: DeployAgentsInput!) {\n    deployAgents(input: $input) {\n      workflowId\n      total\n    }\n  }\n": typeof types.DeployAgentsDocument,
    "\n  query Sites {\n    clients {\n      id\n      name\n    }\n    sites {\n      id\n      clientId\n      code\n      name\n      enrollmentFingerprint\n    }\n    pending: machines(status: Pending) {\n      id\n      hostname\n      status\n      siteId\n      pendingKind\n      pendingReason\n      replacesMachineId\n      requestedBy {\n        at\n        hostname\n        sourceIp\n        siteCode\n        keyVersion\n      }\n    }\n  }\n": typeof types.SitesDocument,
    "\n  mutation RotateKey($siteId: ID!) {\n    rotateEnrollmentKey(siteId: $siteId) {\n      siteId\n      version\n      fingerprint\n      key\n    }\n  }\n": typeof types.RotateKeyDocument,
    "\n  mutation ApprovePending($id: ID!, $asReplacement: Boolean) {\n    approveMachine(id: $id, asReplacement: $asReplacement) {\n      id\n      status\n    }\n  }\n": typeof types.ApprovePendingDocument,
    "\n  mutation RejectPending($id: ID!) {\n    rejectMachine(id: $id) {\n      id\n      status\n    }\n  }\n": typeof types.RejectPendingDocument,
};
const documents: Documents = {
    "\n  query EscrowWrappedKey($keyVersion: Int) {\n    escrowKey(keyVersion: $keyVersion) {\n      keyVersion\n      wrappedPrivateKey\n    }\n  }\n": types.EscrowWrappedKeyDocument,
    "\n  query Audit {\n    auditEvents(last: 500) {\n      seq\n      occurredAt\n      actor\n      action\n      subjectType\n      subjectId\n      hash\n    }\n  }\n": types.AuditDocument,
    "\n  query VerifyAuditChain {\n    auditChain {\n      ok\n      events\n      headSeq\n      brokenAtSeq\n      problem\n    }\n  }\n": types.VerifyAuditChainDocument,
    "\n  query Dashboard {\n    clients {\n      id\n      name\n      sites {\n        id\n        name\n        code\n      }\n    }\n    machineCounts {\n      siteId\n      online\n      offline\n      pending\n      retired\n    }\n    fleetRuns(first: 100) {\n      id\n      status\n      createdAt\n      total\n      passed\n      failed\n      cancelled\n    }\n    alerts(last: 10) {\n      id\n      kind\n      message\n      createdAt\n    }\n  }\n": types.DashboardDocument,
    "\n  query EscrowKeyStatus {\n    escrowKey {\n      keyVersion\n      publicKey\n      fingerprint\n      kdfName\n      kdfIterations\n      createdBy\n      createdAt\n    }\n  }\n": types.EscrowKeyStatusDocument,
    "\n  query EscrowKeyVersions {\n    escrowKeys {\n      keyVersion\n      fingerprint\n      createdBy\n      createdAt\n      retiredAt\n      destroyedAt\n      sealedSecrets\n    }\n  }\n": types.EscrowKeyVersionsDocument,
    "\n  mutation EscrowRewrapBatch($limit: Int) {\n    escrowRewrapBatch(limit: $limit) {\n      toKeyVersion\n      remaining\n      secrets {\n        id\n        machineId\n        kind\n        secretVersion\n        keyVersion\n        envelope\n      }\n    }\n  }\n": types.EscrowRewrapBatchDocument,
    "\n  mutation SubmitRewrappedSecrets($input: SubmitRewrappedSecretsInput!) {\n    submitRewrappedSecrets(input: $input) {\n      stored\n      remaining\n      toKeyVersion\n    }\n  }\n": types.SubmitRewrappedSecretsDocument,
    "\n  mutation DestroyEscrowKey($keyVersion: Int!) {\n    destroyEscrowKey(keyVersion: $keyVersion) {\n      keyVersion\n      destroyedAt\n    }\n  }\n": types.DestroyEscrowKeyDocument,
    "\n  mutation SetupEscrowKey($input: SetupEscrowKeyInput!) {\n    setupEscrowKey(input: $input) {\n      keyVersion\n      fingerprint\n    }\n  }\n": types.SetupEscrowKeyDocument,
    "\n  query EscrowKeyForRecovery($keyVersion: Int) {\n    escrowKey(keyVersion: $keyVersion) {\n      keyVersion\n      publicKey\n      fingerprint\n      retiredAt\n    }\n  }\n": types.EscrowKeyForRecoveryDocument,
    "\n  mutation ReplaceWrappedEscrowKey($keyVersion: Int!, $wrappedPrivateKey: String!) {\n    replaceWrappedEscrowKey(keyVersion: $keyVersion, wrappedPrivateKey: $wrappedPrivateKey) {\n      keyVersion\n      fingerprint\n    }\n  }\n": types.ReplaceWrappedEscrowKeyDocument,
    "\n  query SiteJoinCredential($siteId: ID!) {\n    siteJoinCredential(siteId: $siteId) {\n      domain\n      user\n      version\n    }\n  }\n": types.SiteJoinCredentialDocument,
    "\n  mutation SetJoinCredential($input: SetJoinCredentialInput!) {\n    setJoinCredential(input: $input) {\n      domain\n      user\n      version\n    }\n  }\n": types.SetJoinCredentialDocument,
    "\n  query MachineDetail($id: ID!) {\n    machine(id: $id) {\n      id\n      hostname\n      machineUid\n      status\n      pendingKind\n      pendingReason\n      replacesMachineId\n      siteId\n      agentVersion\n      lastSeenAt\n      createdAt\n      inventoryJson\n      autopilotHashCsv\n      requestedBy {\n        at\n        hostname\n        sourceIp\n        siteCode\n        keyVersion\n      }\n    }\n    machineRuns(machineId: $id) {\n      id\n      status\n      phase\n      step\n      attempt\n      profileVersion\n      startedAt\n      finishedAt\n      lastError {\n        code\n        sentence\n      }\n    }\n    sites {\n      id\n      code\n      name\n    }\n  }\n": types.MachineDetailDocument,
    "\n  mutation ApproveMachine($id: ID!, $asReplacement: Boolean) {\n    approveMachine(id: $id, asReplacement: $asReplacement) {\n      id\n      status\n    }\n  }\n": types.ApproveMachineDocument,
    "\n  mutation RejectMachine($id: ID!) {\n    rejectMachine(id: $id) {\n      id\n      status\n    }\n  }\n": types.RejectMachineDocument,
    "\n  mutation RevokeAgentKey($machineId: ID!) {\n    revokeAgentKey(machineId: $machineId)\n  }\n": types.RevokeAgentKeyDocument,
    "\n  query EscrowedSecrets($machineId: ID!) {\n    escrowedSecrets(machineId: $machineId) {\n      id\n      kind\n      secretVersion\n      keyVersion\n      account\n      protectorId\n      createdAt\n      confirmedAt\n      reveals {\n        actor\n        at\n      }\n    }\n  }\n": types.EscrowedSecretsDocument,
    "\n  mutation RevealSecret($id: ID!) {\n    revealSecret(id: $id) {\n      id\n      tenantId\n      machineId\n      kind\n      secretVersion\n      keyVersion\n      envelope\n    }\n  }\n": types.RevealSecretDocument,
    "\n  query Machines(\n    $first: Int\n    $offset: Int\n    $search: String\n    $filter: MachineFilter\n    $siteId: ID\n    $sort: MachineSort\n    $descending: Boolean\n  ) {\n    machinePage(\n      first: $first\n      offset: $offset\n      search: $search\n      filter: $filter\n      siteId: $siteId\n      sort: $sort\n      descending: $descending\n    ) {\n      total\n      machines {\n        id\n        hostname\n        status\n        pendingKind\n        siteId\n        lastSeenAt\n        agentVersion\n      }\n    }\n    sites {\n      id\n      code\n      name\n    }\n  }\n": types.MachinesDocument,
    "\n  query Migrations($machineId: ID) {\n    profileMigrations(machineId: $machineId, first: 100) {\n      id\n      machineId\n      batchId\n      mode\n      source\n      targetJson\n      targetSid\n      retire\n      status\n      state\n      updatedAt\n      finishedAt\n      lastError {\n        code\n        sentence\n        message\n      }\n    }\n    machines {\n      id\n      hostname\n      status\n    }\n  }\n": types.MigrationsDocument,
    "\n  query MigrationBatch($id: ID!) {\n    profileMigrationBatch(id: $id) {\n      id\n      mode\n      status\n      total\n      concurrency\n      running\n      createdBy\n      createdAt\n      finishedAt\n      counts {\n        status\n        count\n      }\n      migrations {\n        id\n        machineId\n        batchId\n        mode\n        source\n        targetJson\n        targetSid\n        retire\n        status\n        state\n        updatedAt\n        finishedAt\n        lastError {\n          code\n          sentence\n          message\n        }\n      }\n    }\n  }\n": types.MigrationBatchDocument,
    "\n  query Migration($id: ID!) {\n    profileMigration(id: $id) {\n      id\n      machineId\n      batchId\n      workflowId\n      mode\n      source\n      targetJson\n      sourceSid\n      targetSid\n      retire\n      status\n      state\n      backupChecksum\n      notMovable {\n        item\n        reason\n      }\n      restored\n      lastError {\n        type\n        code\n        sentence\n        message\n      }\n      createdBy\n      updatedAt\n      finishedAt\n    }\n  }\n": types.MigrationDocument,
    "\n  mutation StartProfileMigration($input: StartProfileMigrationInput!) {\n    startProfileMigration(input: $input) {\n      id\n      status\n    }\n  }\n": types.StartProfileMigrationDocument,
    "\n  mutation DecideProfileMigration($id: ID!, $decision: String!) {\n    decideProfileMigration(id: $id, decision: $decision) {\n      id\n    }\n  }\n": types.DecideProfileMigrationDocument,
    "\n  mutation CancelProfileMigration($id: ID!) {\n    cancelProfileMigration(id: $id)\n  }\n": types.CancelProfileMigrationDocument,
    "\n  query PasswordRotationSchedule($id: ID!) {\n    passwordRotationSchedule(id: $id, scope: SITE) {\n      scheduleId\n      intervalDays\n      nextRunAt\n    }\n  }\n": types.PasswordRotationScheduleDocument,
    "\n  mutation SetPasswordRotationSchedule($id: ID!, $intervalDays: Int) {\n    setPasswordRotationSchedule(id: $id, scope: SITE, intervalDays: $intervalDays) {\n      scheduleId\n      intervalDays\n      nextRunAt\n    }\n  }\n": types.SetPasswordRotationScheduleDocument,
    "\n  mutation RotateSitePasswords($id: ID!) {\n    rotateLocalAdminPasswords(id: $id, scope: SITE) {\n      workflowId\n    }\n  }\n": types.RotateSitePasswordsDocument,
    "\n  query Profiles {\n    profiles {\n      id\n      name\n      version\n      createdAt\n      createdBy\n      documentJson\n      resolvedJson\n    }\n    clients {\n      id\n      name\n      sites {\n        id\n        code\n      }\n    }\n  }\n": types.ProfilesDocument,
    "\n  query ValidateProfile($documentJson: String!) {\n    validateProfile(documentJson: $documentJson) {\n      path\n      message\n      code\n    }\n  }\n": types.ValidateProfileDocument,
    "\n  mutation SaveProfile($name: String!, $documentJson: String!) {\n    saveProfile(name: $name, documentJson: $documentJson) {\n      id\n      version\n    }\n  }\n": types.SaveProfileDocument,
    "\n  mutation SetProfileLayer($scope: ProfileLayerScope!, $id: ID, $documentJson: String!) {\n    setProfileLayer(scope: $scope, id: $id, documentJson: $documentJson)\n  }\n": types.SetProfileLayerDocument,
    "\n  query FleetRuns {\n    fleetRuns(first: 50) {\n      id\n      status\n      createdAt\n      createdBy\n      finishedAt\n      total\n      passed\n      failed\n      cancelled\n      skipped\n      concurrency\n      profileId\n    }\n    profiles {\n      id\n      name\n      version\n    }\n  }\n": types.FleetRunsDocument,
    "\n  query RunWizard {\n    clients {\n      id\n      name\n      sites {\n        id\n        code\n        name\n      }\n    }\n    machines {\n      id\n      hostname\n      siteId\n      status\n    }\n    profiles {\n      id\n      name\n      version\n      createdAt\n    }\n  }\n": types.RunWizardDocument,
    "\n  mutation StartFleetRun($input: FleetRunStartInput!) {\n    startFleetRun(input: $input) {\n      id\n      total\n      skipped\n    }\n  }\n": types.StartFleetRunDocument,
    "\n  query FleetRun($id: ID!) {\n    fleetRun(id: $id) {\n      id\n      status\n      workflowId\n      createdAt\n      createdBy\n      finishedAt\n      concurrency\n      total\n      passed\n      failed\n      cancelled\n      skipped\n      progress {\n        state\n        total\n        queued\n        running\n        passed\n        failed\n        cancelled\n        paused\n      }\n      machineRuns(first: 1000) {\n        id\n        seq\n        machineId\n        status\n        phase\n        step\n        attempt\n        hostname\n        lastError {\n          code\n          sentence\n        }\n      }\n    }\n  }\n": types.FleetRunDocument,
    "\n  subscription FleetRunProgressFeed($id: ID!) {\n    fleetRunProgress(id: $id) {\n      state\n      total\n      queued\n      running\n      passed\n      failed\n      cancelled\n      paused\n      batches\n      closedInTemporal\n      lateSignals\n      recovered\n    }\n  }\n": types.FleetRunProgressFeedDocument,
    "\n  mutation ControlFleetRun($id: ID!, $action: RunControl!) {\n    controlFleetRun(id: $id, action: $action) {\n      id\n      status\n    }\n  }\n": types.ControlFleetRunDocument,
    "\n  query MachineRun($id: ID!) {\n    machineRun(id: $id) {\n      id\n      machineId\n      fleetRunId\n      workflowId\n      status\n      phase\n      step\n      attempt\n      profileVersion\n      startedAt\n      finishedAt\n      progressJson\n      lastError {\n        code\n        type\n        sentence\n        message\n        step\n      }\n      validation {\n        item\n        result\n        detail\n      }\n    }\n  }\n": types.MachineRunDocument,
    "\n  mutation RetryMachineRun($id: ID!, $fromStep: String, $refreshConfig: Boolean) {\n    retryMachineRun(id: $id, fromStep: $fromStep, refreshConfig: $refreshConfig)\n  }\n": types.RetryMachineRunDocument,
    "\n  mutation ControlMachineRun($id: ID!, $action: RunControl!) {\n    controlMachineRun(id: $id, action: $action) {\n      id\n      status\n    }\n  }\n": types.ControlMachineRunDocument,
    "\n  mutation RotateBitLockerRecoveryPassword($machineId: ID!) {\n    rotateBitLockerRecoveryPassword(machineId: $machineId) {\n      workflowId\n      joined\n    }\n  }\n": types.RotateBitLockerRecoveryPasswordDocument,
    "\n  mutation RotateLocalAdminPassword($machineId: ID!) {\n    rotateLocalAdminPassword(machineId: $machineId) {\n      workflowId\n      joined\n    }\n  }\n": types.RotateLocalAdminPasswordDocument,
    "\n  mutation UpdateBranding($input: BrandingInput!) {\n    updateBranding(input: $input) {\n      displayName\n      logoUrl\n      accentColor\n    }\n  }\n": types.UpdateBrandingDocument,
    "\n  query SiteDiscoveryPage($siteId: ID!) {\n    site(id: $siteId) {\n      id\n      code\n      name\n    }\n    siteDiscovery(siteId: $siteId) {\n      workflowId\n      running\n      state\n      domain {\n        domain\n        site\n        certificateSha256\n        domainControllers {\n          host\n          addresses\n        }\n      }\n      tried\n      credentialVersion\n      reminders\n      lastRefusal\n      lastError\n      enumeration {\n        computers\n        added\n        updated\n        disappeared\n      }\n    }\n    discoveredHosts(siteId: $siteId) {\n      id\n      source\n      name\n      dnsName\n      os\n      role\n      enabled\n      lastLogonAt\n      machineId\n      disappearedAt\n      deployState\n      deployReason\n    }\n  }\n": types.SiteDiscoveryPageDocument,
    "\n  mutation StartSiteDiscovery($siteId: ID!, $resolvers: [String!], $searchSuffixes: [String!]) {\n    startSiteDiscovery(siteId: $siteId, resolvers: $resolvers, searchSuffixes: $searchSuffixes) {\n      state\n    }\n  }\n": types.StartSiteDiscoveryDocument,
    "\n  mutation EnumerateDirectoryNow($siteId: ID!) {\n    enumerateDirectoryNow(siteId: $siteId)\n  }\n": types.EnumerateDirectoryNowDocument,
    "\n  mutation AddManualHost($input: AddManualHostInput!) {\n    addManualHost(input: $input) {\n      id\n    }\n  }\n": types.AddManualHostDocument,
    "\n  mutation DeployAgents($input: DeployAgentsInput!) {\n    deployAgents(input: $input) {\n      workflowId\n      total\n    }\n  }\n": types.DeployAgentsDocument,
    "\n  query Sites {\n    clients {\n      id\n      name\n    }\n    sites {\n      id\n      clientId\n      code\n      name\n      enrollmentFingerprint\n    }\n    pending: machines(status: Pending) {\n      id\n      hostname\n      status\n      siteId\n      pendingKind\n      pendingReason\n      replacesMachineId\n      requestedBy {\n        at\n        hostname\n        sourceIp\n        siteCode\n        keyVersion\n      }\n    }\n  }\n": types.SitesDocument,
    "\n  mutation RotateKey($siteId: ID!) {\n    rotateEnrollmentKey(siteId: $siteId) {\n      siteId\n      version\n      fingerprint\n      key\n    }\n  }\n": types.RotateKeyDocument,
    "\n  mutation ApprovePending($id: ID!, $asReplacement: Boolean) {\n    approveMachine(id: $id, asReplacement: $asReplacement) {\n      id\n      status\n    }\n  }\n": types.ApprovePendingDocument,
    "\n  mutation RejectPending($id: ID!) {\n    rejectMachine(id: $id) {\n      id\n      status\n    }\n  }\n": types.RejectPendingDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query EscrowWrappedKey($keyVersion: Int) {\n    escrowKey(keyVersion: $keyVersion) {\n      keyVersion\n      wrappedPrivateKey\n    }\n  }\n"): typeof import('./graphql').EscrowWrappedKeyDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Audit {\n    auditEvents(last: 500) {\n      seq\n      occurredAt\n      actor\n      action\n      subjectType\n      subjectId\n      hash\n    }\n  }\n"): typeof import('./graphql').AuditDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query VerifyAuditChain {\n    auditChain {\n      ok\n      events\n      headSeq\n      brokenAtSeq\n      problem\n    }\n  }\n"): typeof import('./graphql').VerifyAuditChainDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Dashboard {\n    clients {\n      id\n      name\n      sites {\n        id\n        name\n        code\n      }\n    }\n    machineCounts {\n      siteId\n      online\n      offline\n      pending\n      retired\n    }\n    fleetRuns(first: 100) {\n      id\n      status\n      createdAt\n      total\n      passed\n      failed\n      cancelled\n    }\n    alerts(last: 10) {\n      id\n      kind\n      message\n      createdAt\n    }\n  }\n"): typeof import('./graphql').DashboardDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query EscrowKeyStatus {\n    escrowKey {\n      keyVersion\n      publicKey\n      fingerprint\n      kdfName\n      kdfIterations\n      createdBy\n      createdAt\n    }\n  }\n"): typeof import('./graphql').EscrowKeyStatusDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query EscrowKeyVersions {\n    escrowKeys {\n      keyVersion\n      fingerprint\n      createdBy\n      createdAt\n      retiredAt\n      destroyedAt\n      sealedSecrets\n    }\n  }\n"): typeof import('./graphql').EscrowKeyVersionsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation EscrowRewrapBatch($limit: Int) {\n    escrowRewrapBatch(limit: $limit) {\n      toKeyVersion\n      remaining\n      secrets {\n        id\n        machineId\n        kind\n        secretVersion\n        keyVersion\n        envelope\n      }\n    }\n  }\n"): typeof import('./graphql').EscrowRewrapBatchDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SubmitRewrappedSecrets($input: SubmitRewrappedSecretsInput!) {\n    submitRewrappedSecrets(input: $input) {\n      stored\n      remaining\n      toKeyVersion\n    }\n  }\n"): typeof import('./graphql').SubmitRewrappedSecretsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation DestroyEscrowKey($keyVersion: Int!) {\n    destroyEscrowKey(keyVersion: $keyVersion) {\n      keyVersion\n      destroyedAt\n    }\n  }\n"): typeof import('./graphql').DestroyEscrowKeyDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SetupEscrowKey($input: SetupEscrowKeyInput!) {\n    setupEscrowKey(input: $input) {\n      keyVersion\n      fingerprint\n    }\n  }\n"): typeof import('./graphql').SetupEscrowKeyDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query EscrowKeyForRecovery($keyVersion: Int) {\n    escrowKey(keyVersion: $keyVersion) {\n      keyVersion\n      publicKey\n      fingerprint\n      retiredAt\n    }\n  }\n"): typeof import('./graphql').EscrowKeyForRecoveryDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ReplaceWrappedEscrowKey($keyVersion: Int!, $wrappedPrivateKey: String!) {\n    replaceWrappedEscrowKey(keyVersion: $keyVersion, wrappedPrivateKey: $wrappedPrivateKey) {\n      keyVersion\n      fingerprint\n    }\n  }\n"): typeof import('./graphql').ReplaceWrappedEscrowKeyDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query SiteJoinCredential($siteId: ID!) {\n    siteJoinCredential(siteId: $siteId) {\n      domain\n      user\n      version\n    }\n  }\n"): typeof import('./graphql').SiteJoinCredentialDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SetJoinCredential($input: SetJoinCredentialInput!) {\n    setJoinCredential(input: $input) {\n      domain\n      user\n      version\n    }\n  }\n"): typeof import('./graphql').SetJoinCredentialDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query MachineDetail($id: ID!) {\n    machine(id: $id) {\n      id\n      hostname\n      machineUid\n      status\n      pendingKind\n      pendingReason\n      replacesMachineId\n      siteId\n      agentVersion\n      lastSeenAt\n      createdAt\n      inventoryJson\n      autopilotHashCsv\n      requestedBy {\n        at\n        hostname\n        sourceIp\n        siteCode\n        keyVersion\n      }\n    }\n    machineRuns(machineId: $id) {\n      id\n      status\n      phase\n      step\n      attempt\n      profileVersion\n      startedAt\n      finishedAt\n      lastError {\n        code\n        sentence\n      }\n    }\n    sites {\n      id\n      code\n      name\n    }\n  }\n"): typeof import('./graphql').MachineDetailDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ApproveMachine($id: ID!, $asReplacement: Boolean) {\n    approveMachine(id: $id, asReplacement: $asReplacement) {\n      id\n      status\n    }\n  }\n"): typeof import('./graphql').ApproveMachineDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RejectMachine($id: ID!) {\n    rejectMachine(id: $id) {\n      id\n      status\n    }\n  }\n"): typeof import('./graphql').RejectMachineDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RevokeAgentKey($machineId: ID!) {\n    revokeAgentKey(machineId: $machineId)\n  }\n"): typeof import('./graphql').RevokeAgentKeyDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query EscrowedSecrets($machineId: ID!) {\n    escrowedSecrets(machineId: $machineId) {\n      id\n      kind\n      secretVersion\n      keyVersion\n      account\n      protectorId\n      createdAt\n      confirmedAt\n      reveals {\n        actor\n        at\n      }\n    }\n  }\n"): typeof import('./graphql').EscrowedSecretsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RevealSecret($id: ID!) {\n    revealSecret(id: $id) {\n      id\n      tenantId\n      machineId\n      kind\n      secretVersion\n      keyVersion\n      envelope\n    }\n  }\n"): typeof import('./graphql').RevealSecretDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Machines(\n    $first: Int\n    $offset: Int\n    $search: String\n    $filter: MachineFilter\n    $siteId: ID\n    $sort: MachineSort\n    $descending: Boolean\n  ) {\n    machinePage(\n      first: $first\n      offset: $offset\n      search: $search\n      filter: $filter\n      siteId: $siteId\n      sort: $sort\n      descending: $descending\n    ) {\n      total\n      machines {\n        id\n        hostname\n        status\n        pendingKind\n        siteId\n        lastSeenAt\n        agentVersion\n      }\n    }\n    sites {\n      id\n      code\n      name\n    }\n  }\n"): typeof import('./graphql').MachinesDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Migrations($machineId: ID) {\n    profileMigrations(machineId: $machineId, first: 100) {\n      id\n      machineId\n      batchId\n      mode\n      source\n      targetJson\n      targetSid\n      retire\n      status\n      state\n      updatedAt\n      finishedAt\n      lastError {\n        code\n        sentence\n        message\n      }\n    }\n    machines {\n      id\n      hostname\n      status\n    }\n  }\n"): typeof import('./graphql').MigrationsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query MigrationBatch($id: ID!) {\n    profileMigrationBatch(id: $id) {\n      id\n      mode\n      status\n      total\n      concurrency\n      running\n      createdBy\n      createdAt\n      finishedAt\n      counts {\n        status\n        count\n      }\n      migrations {\n        id\n        machineId\n        batchId\n        mode\n        source\n        targetJson\n        targetSid\n        retire\n        status\n        state\n        updatedAt\n        finishedAt\n        lastError {\n          code\n          sentence\n          message\n        }\n      }\n    }\n  }\n"): typeof import('./graphql').MigrationBatchDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Migration($id: ID!) {\n    profileMigration(id: $id) {\n      id\n      machineId\n      batchId\n      workflowId\n      mode\n      source\n      targetJson\n      sourceSid\n      targetSid\n      retire\n      status\n      state\n      backupChecksum\n      notMovable {\n        item\n        reason\n      }\n      restored\n      lastError {\n        type\n        code\n        sentence\n        message\n      }\n      createdBy\n      updatedAt\n      finishedAt\n    }\n  }\n"): typeof import('./graphql').MigrationDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation StartProfileMigration($input: StartProfileMigrationInput!) {\n    startProfileMigration(input: $input) {\n      id\n      status\n    }\n  }\n"): typeof import('./graphql').StartProfileMigrationDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation DecideProfileMigration($id: ID!, $decision: String!) {\n    decideProfileMigration(id: $id, decision: $decision) {\n      id\n    }\n  }\n"): typeof import('./graphql').DecideProfileMigrationDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CancelProfileMigration($id: ID!) {\n    cancelProfileMigration(id: $id)\n  }\n"): typeof import('./graphql').CancelProfileMigrationDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query PasswordRotationSchedule($id: ID!) {\n    passwordRotationSchedule(id: $id, scope: SITE) {\n      scheduleId\n      intervalDays\n      nextRunAt\n    }\n  }\n"): typeof import('./graphql').PasswordRotationScheduleDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SetPasswordRotationSchedule($id: ID!, $intervalDays: Int) {\n    setPasswordRotationSchedule(id: $id, scope: SITE, intervalDays: $intervalDays) {\n      scheduleId\n      intervalDays\n      nextRunAt\n    }\n  }\n"): typeof import('./graphql').SetPasswordRotationScheduleDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RotateSitePasswords($id: ID!) {\n    rotateLocalAdminPasswords(id: $id, scope: SITE) {\n      workflowId\n    }\n  }\n"): typeof import('./graphql').RotateSitePasswordsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Profiles {\n    profiles {\n      id\n      name\n      version\n      createdAt\n      createdBy\n      documentJson\n      resolvedJson\n    }\n    clients {\n      id\n      name\n      sites {\n        id\n        code\n      }\n    }\n  }\n"): typeof import('./graphql').ProfilesDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ValidateProfile($documentJson: String!) {\n    validateProfile(documentJson: $documentJson) {\n      path\n      message\n      code\n    }\n  }\n"): typeof import('./graphql').ValidateProfileDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SaveProfile($name: String!, $documentJson: String!) {\n    saveProfile(name: $name, documentJson: $documentJson) {\n      id\n      version\n    }\n  }\n"): typeof import('./graphql').SaveProfileDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SetProfileLayer($scope: ProfileLayerScope!, $id: ID, $documentJson: String!) {\n    setProfileLayer(scope: $scope, id: $id, documentJson: $documentJson)\n  }\n"): typeof import('./graphql').SetProfileLayerDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query FleetRuns {\n    fleetRuns(first: 50) {\n      id\n      status\n      createdAt\n      createdBy\n      finishedAt\n      total\n      passed\n      failed\n      cancelled\n      skipped\n      concurrency\n      profileId\n    }\n    profiles {\n      id\n      name\n      version\n    }\n  }\n"): typeof import('./graphql').FleetRunsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query RunWizard {\n    clients {\n      id\n      name\n      sites {\n        id\n        code\n        name\n      }\n    }\n    machines {\n      id\n      hostname\n      siteId\n      status\n    }\n    profiles {\n      id\n      name\n      version\n      createdAt\n    }\n  }\n"): typeof import('./graphql').RunWizardDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation StartFleetRun($input: FleetRunStartInput!) {\n    startFleetRun(input: $input) {\n      id\n      total\n      skipped\n    }\n  }\n"): typeof import('./graphql').StartFleetRunDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query FleetRun($id: ID!) {\n    fleetRun(id: $id) {\n      id\n      status\n      workflowId\n      createdAt\n      createdBy\n      finishedAt\n      concurrency\n      total\n      passed\n      failed\n      cancelled\n      skipped\n      progress {\n        state\n        total\n        queued\n        running\n        passed\n        failed\n        cancelled\n        paused\n      }\n      machineRuns(first: 1000) {\n        id\n        seq\n        machineId\n        status\n        phase\n        step\n        attempt\n        hostname\n        lastError {\n          code\n          sentence\n        }\n      }\n    }\n  }\n"): typeof import('./graphql').FleetRunDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription FleetRunProgressFeed($id: ID!) {\n    fleetRunProgress(id: $id) {\n      state\n      total\n      queued\n      running\n      passed\n      failed\n      cancelled\n      paused\n      batches\n      closedInTemporal\n      lateSignals\n      recovered\n    }\n  }\n"): typeof import('./graphql').FleetRunProgressFeedDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ControlFleetRun($id: ID!, $action: RunControl!) {\n    controlFleetRun(id: $id, action: $action) {\n      id\n      status\n    }\n  }\n"): typeof import('./graphql').ControlFleetRunDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query MachineRun($id: ID!) {\n    machineRun(id: $id) {\n      id\n      machineId\n      fleetRunId\n      workflowId\n      status\n      phase\n      step\n      attempt\n      profileVersion\n      startedAt\n      finishedAt\n      progressJson\n      lastError {\n        code\n        type\n        sentence\n        message\n        step\n      }\n      validation {\n        item\n        result\n        detail\n      }\n    }\n  }\n"): typeof import('./graphql').MachineRunDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RetryMachineRun($id: ID!, $fromStep: String, $refreshConfig: Boolean) {\n    retryMachineRun(id: $id, fromStep: $fromStep, refreshConfig: $refreshConfig)\n  }\n"): typeof import('./graphql').RetryMachineRunDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ControlMachineRun($id: ID!, $action: RunControl!) {\n    controlMachineRun(id: $id, action: $action) {\n      id\n      status\n    }\n  }\n"): typeof import('./graphql').ControlMachineRunDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RotateBitLockerRecoveryPassword($machineId: ID!) {\n    rotateBitLockerRecoveryPassword(machineId: $machineId) {\n      workflowId\n      joined\n    }\n  }\n"): typeof import('./graphql').RotateBitLockerRecoveryPasswordDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RotateLocalAdminPassword($machineId: ID!) {\n    rotateLocalAdminPassword(machineId: $machineId) {\n      workflowId\n      joined\n    }\n  }\n"): typeof import('./graphql').RotateLocalAdminPasswordDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation UpdateBranding($input: BrandingInput!) {\n    updateBranding(input: $input) {\n      displayName\n      logoUrl\n      accentColor\n    }\n  }\n"): typeof import('./graphql').UpdateBrandingDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query SiteDiscoveryPage($siteId: ID!) {\n    site(id: $siteId) {\n      id\n      code\n      name\n    }\n    siteDiscovery(siteId: $siteId) {\n      workflowId\n      running\n      state\n      domain {\n        domain\n        site\n        certificateSha256\n        domainControllers {\n          host\n          addresses\n        }\n      }\n      tried\n      credentialVersion\n      reminders\n      lastRefusal\n      lastError\n      enumeration {\n        computers\n        added\n        updated\n        disappeared\n      }\n    }\n    discoveredHosts(siteId: $siteId) {\n      id\n      source\n      name\n      dnsName\n      os\n      role\n      enabled\n      lastLogonAt\n      machineId\n      disappearedAt\n      deployState\n      deployReason\n    }\n  }\n"): typeof import('./graphql').SiteDiscoveryPageDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation StartSiteDiscovery($siteId: ID!, $resolvers: [String!], $searchSuffixes: [String!]) {\n    startSiteDiscovery(siteId: $siteId, resolvers: $resolvers, searchSuffixes: $searchSuffixes) {\n      state\n    }\n  }\n"): typeof import('./graphql').StartSiteDiscoveryDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation EnumerateDirectoryNow($siteId: ID!) {\n    enumerateDirectoryNow(siteId: $siteId)\n  }\n"): typeof import('./graphql').EnumerateDirectoryNowDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation AddManualHost($input: AddManualHostInput!) {\n    addManualHost(input: $input) {\n      id\n    }\n  }\n"): typeof import('./graphql').AddManualHostDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation DeployAgents($input: DeployAgentsInput!) {\n    deployAgents(input: $input) {\n      workflowId\n      total\n    }\n  }\n"): typeof import('./graphql').DeployAgentsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Sites {\n    clients {\n      id\n      name\n    }\n    sites {\n      id\n      clientId\n      code\n      name\n      enrollmentFingerprint\n    }\n    pending: machines(status: Pending) {\n      id\n      hostname\n      status\n      siteId\n      pendingKind\n      pendingReason\n      replacesMachineId\n      requestedBy {\n        at\n        hostname\n        sourceIp\n        siteCode\n        keyVersion\n      }\n    }\n  }\n"): typeof import('./graphql').SitesDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RotateKey($siteId: ID!) {\n    rotateEnrollmentKey(siteId: $siteId) {\n      siteId\n      version\n      fingerprint\n      key\n    }\n  }\n"): typeof import('./graphql').RotateKeyDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ApprovePending($id: ID!, $asReplacement: Boolean) {\n    approveMachine(id: $id, asReplacement: $asReplacement) {\n      id\n      status\n    }\n  }\n"): typeof import('./graphql').ApprovePendingDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RejectPending($id: ID!) {\n    rejectMachine(id: $id) {\n      id\n      status\n    }\n  }\n"): typeof import('./graphql').RejectPendingDocument;


export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}
