import { builder } from './builder';
import './types/tenant';
import './types/client';
import './types/site';
import './types/machine';
import './types/enrollment-requester';
import './types/enrollment-key';
import './types/alert';
import './types/audit-event';
import './types/profile';
import './types/profile-error';
import './types/profile-layer';
import './types/run-control';
import './types/run-error';
import './types/validation-item';
import './types/machine-run';
import './types/fleet-run';
import './types/fleet-run-progress';
import './types/undo-error';
import './types/undo-value-failure';
import './types/machine-tweak-undo';
import './types/tweak-undo-counts';
import './types/tweak-undo';
import './types/site-installers';
import './types/viewer';

/** The schema: every type registers itself with the builder when imported; this file only imports. */
export const schema = builder.toSchema();
