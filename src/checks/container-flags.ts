import path from 'node:path';
import type { DraftFinding, SourceLocation } from '../findings.js';
import type { ArgProblem, ArgProblemKind, FlagSpec } from '../flags/catalog.js';
import type { CatalogLookup } from '../flags/store.js';
import { formatImage, type ImageRef } from '../flags/image-ref.js';
import { suggestValue } from '../flags/did-you-mean.js';
import { validateArgs } from '../flags/frameworks/registry.js';
import { printAndExitFlag } from '../flags/exits-at-start.js';
import { doubtfulClapArgs } from '../flags/frameworks/clap-args.js';
import { doubtfulPflagArgs } from '../flags/frameworks/pflag-args.js';
import { shellInvocation } from '../flags/shell-script.js';
import { inspectionFindings } from './rendered-inspection.js';
import type { RenderedRelease } from '../model/release.js';
import type { RenderedContainer } from '../model/workloads.js';
import { locateArgument, locateImage } from './arg-origin.js';
import { isSecretOrigin } from '../flux/values-merge.js';
import { isSecretSource, redactValueInFinding } from '../report/redact.js';
import { displayArgument, displayArguments, isSecretDerived } from './secret-args.js';

export const CONTAINER_FLAG_RULES: Record<ArgProblemKind, string> = {
  'unknown-flag': 'container-flags/unknown-flag',
  'bool-with-value': 'container-flags/bool-with-value',
  repeated: 'container-flags/repeated',
  'bad-enum': 'container-flags/bad-enum',
  'bad-value': 'container-flags/bad-value',
  'missing-required': 'container-flags/missing-required',
  'missing-value': 'container-flags/missing-value',
  'unexpected-positional': 'container-flags/unexpected-argument',
  conflict: 'container-flags/conflicting-flags',
  'bad-env-value': 'container-flags/bad-env-value',
};

/** Ground truth per container slot ("Deployment/name container"): what its image accepts. */
export type CatalogLookups = ReadonlyMap<string, CatalogLookup>;

/** The same release at the base revision: which image each container ran before this change. */
export interface PreviousRender {
  /** "Deployment/name container" -> image */
  images: ReadonlyMap<string, string>;
  /** "Deployment/name container" -> ground truth of the image it ran */
  catalogs: CatalogLookups;
}

export function containerSlot(container: Pick<RenderedContainer, 'workload' | 'name'>): string {
  return `${container.workload.kind}/${container.workload.name} ${container.name}`;
}

/** Every rendered container's command line, checked against its image's own --help. */
export function checkContainerFlags(rendered: RenderedRelease, catalogs: CatalogLookups, previous?: PreviousRender): DraftFinding[] {
  const aboutHelp = new Map<string, DraftFinding>();
  for (const container of rendered.containers) {
    for (const finding of groundTruthFindings(rendered, container, catalogs.get(containerSlot(container)))) aboutHelp.set(`${finding.rule} ${finding.message}`, finding);
  }
  const perContainer = rendered.containers.flatMap((container) => {
    const slot = containerSlot(container);
    const before = previous?.images.get(slot);
    const previousLookup = before && before !== container.image ? previous?.catalogs.get(slot) : undefined;
    return checkContainer(rendered, container, catalogs.get(slot), previousLookup);
  });
  return [...inspectionFindings(rendered), ...aboutHelp.values(), ...perContainer];
}

function checkContainer(rendered: RenderedRelease, container: RenderedContainer, lookup: CatalogLookup | undefined, previousLookup?: CatalogLookup): DraftFinding[] {
  const subject = {
    ...rendered.subject,
    workload: `${container.workload.kind}/${container.workload.name}`,
    container: container.name,
    image: container.image,
  };
  const where = `${subject.workload} container ${container.name}${container.init ? ' (init)' : container.ephemeral ? ' (ephemeral)' : ''}`;
  const hasCommandLine = (container.args?.length ?? 0) > 0 || (container.command?.length ?? 0) > 0;
  if (!lookup || lookup.status === 'missing' || lookup.status === 'unparsable') {
    if (!hasCommandLine || !lookup) return [];
    return [unverified(rendered, container, lookup, previousLookup, where, subject)];
  }
  if (lookup.status === 'skipped') {
    if (!hasCommandLine) return [];
    return [{
      rule: 'container-flags/skipped',
      severity: 'notice',
      message: `${where}: flags of ${container.image} not verified: ${lookup.reason}`,
      location: locateImage(rendered, lookup.image.repository, lookup.image.tag),
      subject,
    }];
  }
  const argv = ofSubcommand(argumentsOfBinary(container, lookup.binary ?? lookup.catalog.program, (script) => displayArgument(rendered, script)), lookup);
  if (argv.kind === 'shell-script') {
    return [{
      rule: 'container-flags/shell-script',
      severity: 'notice',
      message: `${where}: not verified: shell script (${argv.reason}); only a plain \`exec ${lookup.binary ?? lookup.catalog.program ?? 'BIN'} args\` line is checked against ${lookup.label} --help`,
      location: locateArgument(rendered, argv.script.slice(0, 200)).location,
      subject,
      evidence: [`command: ${displayArguments(rendered, container.command)}${container.args ? `; args: ${displayArguments(rendered, container.args)}` : ''}`.slice(0, 500)],
    }];
  }
  if (argv.kind === 'other-program') {
    return [{
      rule: 'container-flags/command-override',
      severity: 'notice',
      message: `${where}: command runs ${argv.program}, not ${lookup.binary ?? lookup.catalog.program}; its arguments are not checked against ${lookup.label} --help`,
      location: rendered.release.locations.version,
      subject,
      evidence: [`command: ${container.command?.join(' ')}`],
    }];
  }
  const problems = validateArgs(lookup.catalog, argv.args, { env: container.env, label: lookup.label });
  const findings = problems.map((problem) => {
    const finding = toFinding(rendered, lookup, problem, argv, where, subject);
    return problem.kind === 'unknown-flag' ? asRemovedInUpgrade(finding, problem, lookup, previousLookup) : finding;
  });
  const exits = printAndExitFlag(lookup.catalog, argv.args);
  if (exits && !problems.some((p) => p.argIndex >= 0 && p.argIndex <= exits.index)) findings.push(printAndExitFinding(rendered, container, lookup, argv, exits, where, subject));
  return [...findings, ...doubtful(rendered, lookup, argv.args, where, subject), ...unknownEnvironment(rendered, container, lookup, where, subject)];
}

/** What the args do that the binary may refuse, by a setting its help does not print: said, not blocked. */
function doubtful(rendered: RenderedRelease, lookup: Extract<CatalogLookup, { status: 'found' }>, args: string[], where: string, subject: DraftFinding['subject']): DraftFinding[] {
  const framework = lookup.catalog.framework;
  const messages = framework === 'clap' ? doubtfulClapArgs(lookup.catalog, args) : framework === 'pflag' ? doubtfulPflagArgs(lookup.catalog, args) : [];
  return messages.map((message) => ({
    rule: 'container-flags/may-be-refused',
    severity: 'warning' as const,
    message: `${where}: ${message}`,
    location: rendered.release.locations.version,
    subject,
    evidence: [`${lookup.label} (${framework}) decides this with a setting its --help does not print`],
  }));
}

/** `--version` / `--help` in the args: the binary prints and exits 0 before doing its work. */
function printAndExitFinding(
  rendered: RenderedRelease,
  container: RenderedContainer,
  lookup: Extract<CatalogLookup, { status: 'found' }>,
  argv: Extract<Argv, { kind: 'binary' }>,
  exits: { index: number; flag: string; what: string },
  where: string,
  subject: DraftFinding['subject'],
): DraftFinding {
  const restarts = container.restartsOnExit !== false;
  const printed = exits.what === 'version' ? 'its version' : exits.what === 'completion' ? 'a completion script' : 'its help';
  const outcome = restarts
    ? `Kubernetes restarts it each time it exits, so the pod ends in CrashLoopBackOff and ${container.workload.kind}/${container.workload.name} never runs ${lookup.label}`
    : `the ${container.init ? 'init container' : 'pod'} then completes without doing any work`;
  const flagName = exits.flag.replace(/^-+/, '').split('=')[0];
  return {
    rule: 'container-flags/exits-at-start',
    severity: restarts ? 'error' : 'warning',
    message: `${where}: ${exits.flag} makes ${lookup.label} print ${printed} and exit with status 0 at start; ${outcome}`,
    location: locateArgument(rendered, argv.args[exits.index] ?? exits.flag, flagName).location,
    subject,
    evidence: [`rendered ${where} ${argv.offsetLabel(exits.index)}: ${exits.flag}`, `${lookup.file}: ${lookup.catalog.flags.find((f) => f.name === flagName || f.short === flagName)?.declaration ?? exits.flag}`],
    suggestion: `remove ${exits.flag} from the args`,
  };
}

/**
 * Frameworks that map flags to env vars by a prefix (kingpin's $EXTERNAL_DNS_*) ignore a variable
 * with that prefix that names no flag: a typo there silently does nothing.
 */
function unknownEnvironment(rendered: RenderedRelease, container: RenderedContainer, lookup: Extract<CatalogLookup, { status: 'found' }>, where: string, subject: DraftFinding['subject']): DraftFinding[] {
  const prefix = lookup.catalog.envPrefix;
  if (!prefix) return [];
  const known = lookup.catalog.flags.map((f) => f.envVar).filter((v): v is string => v !== undefined);
  return (container.envNames ?? Object.keys(container.env))
    .filter((name) => name.startsWith(prefix) && !known.includes(name))
    .map((name) => {
      const close = suggestValue(name, known);
      const flag = close ? lookup.catalog.flags.find((f) => f.envVar === close) : undefined;
      return {
        rule: 'container-flags/unknown-env',
        severity: 'warning' as const,
        message: `${where}: environment variable ${name} has the ${lookup.label} flag prefix ${prefix} but names no flag, so it does nothing${close ? `; did you mean ${close}?` : ''}`,
        location: locateArgument(rendered, name).location,
        subject,
        evidence: [`${lookup.label} reads ${prefix}* variables for its flags (${lookup.file})`],
        ...(lookup.inRepository && flag && flag.line > 0 ? { related: [{ path: lookup.file, line: flag.line, message: `${flag.declaration}: ${flag.help}` }] } : {}),
        ...(close ? { suggestion: close } : {}),
      };
    });
}

type Argv =
  | { kind: 'binary'; args: string[]; offsetLabel: (index: number) => string }
  | { kind: 'other-program'; program: string }
  | { kind: 'shell-script'; script: string; reason: string };

/**
 * The arguments the image's binary receives: args alone, command[1..] + args when command names
 * that binary, or the words of a plain `sh -c "exec BIN args"` script.
 */
/**
 * Help captured for a subcommand describes the args after it; catalogs that know their subcommand
 * (pflag, and kingpin/urfave when their help names it) read the whole line, other frameworks'
 * parsers of a subcommand see only what follows it.
 */
function ofSubcommand(argv: Argv, lookup: Extract<CatalogLookup, { status: 'found' }>): Argv {
  if (argv.kind !== 'binary' || !lookup.subcommand?.length || lookup.catalog.framework === 'pflag' || (lookup.catalog.subcommand?.length ?? 0) > 0) return argv;
  let index = -1;
  for (const word of lookup.subcommand) {
    index = argv.args.indexOf(word, index + 1);
    if (index < 0) return argv;
  }
  const skip = index + 1;
  return { kind: 'binary', args: argv.args.slice(skip), offsetLabel: (i) => argv.offsetLabel(i + skip) };
}

function argumentsOfBinary(container: RenderedContainer, binary: string | undefined, display: (script: string) => string): Argv {
  const args = container.args ?? [];
  const command = container.command;
  if (!command || command.length === 0) return { kind: 'binary', args, offsetLabel: (i) => `args[${i}]` };
  const program = path.posix.basename(command[0] ?? '');
  const shell = binary && program !== binary ? shellInvocation(command, container.args) : undefined;
  if (shell?.kind === 'complex') return { kind: 'shell-script', script: shell.script, reason: shell.reason };
  if (shell?.kind === 'simple') {
    const runs = path.posix.basename(shell.program);
    if (runs !== binary) return { kind: 'other-program', program: `${program} -c "${runs} ..."` };
    const shown = display(shell.script);
    return { kind: 'binary', args: shell.args, offsetLabel: (i) => `shell script ${JSON.stringify(shown.length > 80 ? `${shown.slice(0, 77)}...` : shown)}, argument ${i + 1} of ${runs}` };
  }
  if (binary && program !== binary) return { kind: 'other-program', program };
  const fromCommand = command.slice(1);
  return {
    kind: 'binary',
    args: [...fromCommand, ...args],
    offsetLabel: (i) => (i < fromCommand.length ? `command[${i + 1}]` : `args[${i - fromCommand.length}]`),
  };
}

function toFinding(
  rendered: RenderedRelease,
  lookup: Extract<CatalogLookup, { status: 'found' }>,
  problem: ArgProblem,
  argv: Extract<Argv, { kind: 'binary' }>,
  where: string,
  subject: DraftFinding['subject'],
): DraftFinding {
  const arg = problem.argIndex >= 0 ? argv.args[problem.argIndex] : undefined;
  const origin = arg !== undefined
    ? locateArgument(rendered, arg, problem.flag)
    : problem.envVar ? locateArgument(rendered, problem.envVar)
    : { location: rendered.release.locations.version, fromValues: false };
  const evidence: string[] = [];
  if (arg !== undefined) evidence.push(`rendered ${where} ${argv.offsetLabel(problem.argIndex)}: ${arg}`);
  if (problem.kind === 'unknown-flag') evidence.push(`not in ${lookup.label} --help (${lookup.file})`);
  else if (problem.spec && problem.spec.line > 0) evidence.push(helpEvidence(lookup, problem.spec));
  evidence.push(`${lookup.label} would exit with: ${problem.binaryError}`);
  if (problem.envVar) evidence.push(`rendered ${where} env ${problem.envVar}; ${lookup.label} reads it because --${problem.flag} is not in the args`);
  if (!origin.fromValues && arg !== undefined) evidence.push('the argument comes from the chart\'s own templates/defaults, not from the values');
  const substituted = arg !== undefined ? (rendered.release.object.variables ?? []).filter((v) => v.value.length > 0 && arg.includes(v.value)) : [];
  for (const variable of substituted) evidence.push(`\${${variable.name}} is "${variable.value}", substituted by Flux from ${variable.source} (${variable.location.path}:${variable.location.line})`);
  const related: Array<SourceLocation & { message?: string }> = [];
  const suggested = problem.suggestion ? lookup.catalog.flags.find((f) => `--${f.name}` === problem.suggestion?.split('=')[0]) : undefined;
  if (lookup.inRepository && suggested && suggested.line > 0) related.push({ path: lookup.file, line: suggested.line, message: `${suggested.declaration}: ${suggested.help}` });
  if (lookup.inRepository && problem.spec && problem.spec.line > 0) related.push({ path: lookup.file, line: problem.spec.line, message: problem.spec.declaration });
  for (const variable of substituted) related.push({ ...variable.location, message: `\${${variable.name}} = ${variable.value} (${variable.source})` });
  const finding: DraftFinding = {
    rule: CONTAINER_FLAG_RULES[problem.kind],
    severity: 'error',
    message: `${where}: ${problem.message}`,
    location: origin.location,
    subject,
    related: related.length > 0 ? related : undefined,
    evidence,
    suggestion: problem.suggestion,
  };
  // A value that came from a Secret (valuesFrom, substituteFrom) is quoted masked, short words too.
  const quoted = arg ?? problem.value;
  let masked = quoted !== undefined && ((origin.fromValues && isSecretOrigin(rendered.values, origin.location)) || isSecretDerived(rendered, quoted)) ? redactValueInFinding(finding, quoted) : finding;
  for (const variable of substituted) if (isSecretSource(variable.source)) masked = redactValueInFinding(masked, variable.value);
  return masked;
}

/**
 * An unknown flag that the image this container ran before the change did know: the upgrade
 * (a chart bump or an image tag) dropped it. Said so, with both versions.
 */
function asRemovedInUpgrade(finding: DraftFinding, problem: ArgProblem, lookup: Extract<CatalogLookup, { status: 'found' }>, previous: CatalogLookup | undefined): DraftFinding {
  if (previous?.status !== 'found' || !problem.flag) return finding;
  const known = previous.catalog.flags.find((f) => f.name === problem.flag && !f.hidden);
  if (!known) return finding;
  return {
    ...finding,
    rule: 'container-flags/removed-in-upgrade',
    message: `${finding.message.split(':')[0]}: --${problem.flag} was removed in ${lookup.label}; ${previous.label}, which this container ran before the change, had it${problem.suggestion ? `; did you mean ${problem.suggestion}?` : ''}`,
    evidence: [...(finding.evidence ?? []), helpEvidence(previous, known)],
    ...(previous.inRepository ? { related: [...(finding.related ?? []), { path: previous.file, line: known.line, message: `${previous.label}: ${known.declaration}` }] } : {}),
  };
}

function helpEvidence(lookup: Extract<CatalogLookup, { status: 'found' }>, spec: FlagSpec): string {
  const where = lookup.inRepository ? `${lookup.file}:${spec.line}` : lookup.file;
  return `${where}: ${spec.declaration}  ${spec.help}`.trim();
}

/**
 * A container whose image's flags cannot be verified. After an upgrade of an image whose flags were
 * verified, that blocks: the new tag is exactly where a removed or renamed flag hides.
 */
function unverified(
  rendered: RenderedRelease,
  container: RenderedContainer,
  lookup: Extract<CatalogLookup, { status: 'missing' | 'unparsable' }>,
  previousLookup: CatalogLookup | undefined,
  where: string,
  subject: DraftFinding['subject'],
): DraftFinding {
  const image = lookup.image;
  const reasons = [lookup.status === 'missing'
    ? `no help output is known for ${formatImage(image)} (expected ${lookup.expectedFile})`
    : `the help output in ${lookup.file} could not be parsed: ${lookup.reason}`];
  if (lookup.status === 'missing' && lookup.captureFailure) reasons.push(`it could not be taken from the image: ${lookup.captureFailure.reason}`);
  if (lookup.status === 'missing' && lookup.untrustedFile) reasons.push(`${lookup.untrustedFile} comes with this change, and a help file counts only once merged or when the image confirms it`);
  const base = {
    location: locateImage(rendered, image.repository, image.tag),
    subject,
    evidence: [`${container.command ? `command: ${displayArguments(rendered, container.command)}; ` : ''}args: ${displayArguments(rendered, container.args)}`],
    suggestion: `capture it from the image: ${captureCommand(image, container)}`,
  };
  if (previousLookup?.status === 'found') {
    const unreachable = lookup.status === 'missing' && lookup.captureFailure?.unreachable === true;
    return {
      ...base,
      rule: unreachable ? 'container-flags/capture-unreachable' : 'container-flags/unverified-upgrade',
      severity: 'error',
      message: `${where}: ${formatImage(image)} replaces ${previousLookup.label}, whose flags were verified, and its own flags cannot be: ${reasons.join('; ')}`,
    };
  }
  return { ...base, rule: 'container-flags/unverified', severity: 'warning', message: `${where}: flags not verified: ${reasons.join('; ')}` };
}

/**
 * The capture command for what this container runs: its command, and the words of its args that may
 * name a subcommand (`proxy` of `kubectl proxy`), so the help stored is the one its args are read with.
 */
function captureCommand(image: ImageRef, container: RenderedContainer): string {
  const plain = /^[A-Za-z0-9._/-]+$/;
  const words = (list: string[] | undefined) => {
    const leading: string[] = [];
    for (const word of list ?? []) {
      if (word.startsWith('-') || !plain.test(word) || leading.length >= 3) break;
      leading.push(word);
    }
    return leading;
  };
  const command = container.command?.length && container.command.every((w) => plain.test(w)) ? ` --command "${container.command.join(' ')}"` : '';
  const args = words(container.args);
  return `npx guard flags capture ${formatImage(image)}${command}${args.length > 0 ? ` --args "${args.join(' ')}"` : ''}`;
}

/** What the ground truth itself says: a help file of the change that the image contradicts, a tag that moved. */
function groundTruthFindings(rendered: RenderedRelease, container: RenderedContainer, lookup: CatalogLookup | undefined): DraftFinding[] {
  if (lookup?.status !== 'found') return [];
  const subject = { ...rendered.subject, image: container.image };
  const findings: DraftFinding[] = [];
  if (lookup.conflict) {
    findings.push({
      rule: 'container-flags/help-disagrees',
      severity: 'error',
      message: `${lookup.conflict.file}, which this change adds or edits, does not match the help of ${formatImage(lookup.image)} itself: ${lookup.conflict.differences.join('; ')}`,
      location: { path: lookup.conflict.file, line: 1 },
      subject,
      evidence: [`the image's own help: ${lookup.file}`],
      suggestion: `drop the file, or write the image's help into it with: npx guard flags capture ${formatImage(lookup.image)}`,
    });
  }
  for (const note of lookup.notes ?? []) {
    findings.push({ rule: 'container-flags/tag-moved', severity: 'notice', message: `${formatImage(lookup.image)}: ${note}`, location: locateImage(rendered, lookup.image.repository, lookup.image.tag), subject });
  }
  return findings;
}
