import { builder } from './builder';
import './types/machine';
import './types/site';
import './types/client';
import './types/tenant';
import './types/audit-event';
import './types/create-site';
import './types/enrollment-key';
import './types/alert';
import './types/machine-actions';
import './types/profile';
import './types/provisioning';
import './types/undo-tweaks';
import './types/site-installers';

export const schema = builder.toSchema();
