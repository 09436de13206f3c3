import { asRecord, asString } from './objects.js';
import type { HelmRelease } from './helmrelease.js';

/** Whether helm-controller installs this release for the first time or upgrades it. */
export type ReleaseAction = 'install' | 'upgrade';

/** The parts of spec.install / spec.upgrade that change what helm renders or accepts. */
export interface ActionSettings {
  action: ReleaseAction;
  /** CRDs policy: Skip leaves the chart's crds/ out; Create and CreateReplace apply them. */
  crds: 'Skip' | 'Create' | 'CreateReplace';
  disableHooks: boolean;
  /** helm does not validate the values against the chart's values.schema.json. */
  disableSchemaValidation: boolean;
}

export function actionSettings(release: HelmRelease, action: ReleaseAction): ActionSettings {
  const spec = asRecord(release.object.body.spec) ?? {};
  const settings = asRecord(spec[action]) ?? {};
  const crds = asString(settings.crds);
  return {
    action,
    // Flux defaults: Create on install, Skip on upgrade.
    crds: crds === 'Skip' || crds === 'Create' || crds === 'CreateReplace' ? crds : action === 'install' ? 'Create' : 'Skip',
    disableHooks: settings.disableHooks === true,
    disableSchemaValidation: settings.disableSchemaValidation === true,
  };
}
