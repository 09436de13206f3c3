import { isSecretOrigin } from '../flux/values-merge.js';
import type { RenderedRelease } from '../model/release.js';
import { isSecretSource, maskArgument } from '../report/redact.js';
import { locateArgument } from './arg-origin.js';

/**
 * A rendered argument as a finding may quote it: masked (`--flag=***REDACTED***`) when its value came
 * from a Secret, through valuesFrom or through a substituteFrom variable; as rendered otherwise.
 */
export function displayArgument(rendered: RenderedRelease, arg: string): string {
  const fromSecretVariable = (rendered.release.object.variables ?? []).some((v) => isSecretSource(v.source) && v.value.length > 0 && arg.includes(v.value));
  if (fromSecretVariable) return maskArgument(arg);
  const origin = locateArgument(rendered, arg);
  return origin.fromValues && isSecretOrigin(rendered.values, origin.location) ? maskArgument(arg) : arg;
}

/** A whole command line (command or args) as a finding may quote it. */
export function displayArguments(rendered: RenderedRelease, args: readonly string[] | undefined): string {
  return (args ?? []).map((arg) => displayArgument(rendered, arg)).join(' ');
}
