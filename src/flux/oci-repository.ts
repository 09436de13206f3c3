import type { SourceLocation } from '../findings.js';
import { pullChart } from '../helm/pull.js';
import { chartPullOptions, isAllowedSource, pullFailure, pullNotices, sourceNotAllowed } from './chart-ref.js';
import type { ChartResolution, ChartSourceContext } from './chart-source.js';
import { asRecord, asString, locationOf, type RepoObject } from './objects.js';

/** spec.ref of an OCIRepository; source-controller's precedence is digest, then semver, then tag. */
type OciReference = { digest: string } | { semver: string } | { tag: string };

interface OciRepository {
  id: string;
  url: string;
  reference: OciReference;
  insecure: boolean;
}

const DEFAULT_TAG = 'latest';

/** Fetch the chart an OCIRepository points at, as source-controller would get it. */
export async function resolveFromOciRepository(object: RepoObject, context: ChartSourceContext): Promise<ChartResolution> {
  const read = readOciRepository(object);
  if ('message' in read) return { ok: false, message: read.message, location: read.location };
  const { id, url, reference } = read;
  const options = chartPullOptions(context);
  if (!isAllowedSource(url, options)) return sourceNotAllowed(object, id, url);
  const referenceLocation = locationOf(object, ['spec', 'ref']);
  const slash = url.lastIndexOf('/');
  const pulled = await pullChart(
    { repositoryUrl: url.slice(0, slash), chart: url.slice(slash + 1), ociReference: reference, plainHttp: read.insecure },
    context.cacheDir,
    options,
    context.rangePulls,
  );
  const what = `chart ${url} ${describeReference(reference)} (OCIRepository ${id})`;
  if (!pulled.ok) return pullFailure(pulled, `cannot fetch ${what}`, referenceLocation);
  const notices = pullNotices(pulled, what, referenceLocation);
  return {
    ok: true,
    dir: pulled.dir,
    description: `${url} ${describeReference(reference)}${pulled.version ? ` (chart ${pulled.version})` : ''}${pulled.offline ? ` (${pulled.offline})` : ''}${pulled.mirror ? ` (from the mirror ${pulled.mirror.url})` : ''}`,
    inputs: [object],
    digest: `sha256:${pulled.sha256}`,
    ...(notices.length > 0 ? { notices } : {}),
  };
}

function readOciRepository(object: RepoObject): OciRepository | { message: string; location: SourceLocation } {
  const id = `${object.namespace ?? 'default'}/${object.name}`;
  const spec = asRecord(object.body.spec) ?? {};
  const url = asString(spec.url);
  if (!url?.startsWith('oci://') || url.replace(/^oci:\/\//, '').split('/').filter(Boolean).length < 2) {
    return { message: `OCIRepository ${id} needs spec.url of the form oci://host/path/chart`, location: locationOf(object, spec.url === undefined ? ['spec'] : ['spec', 'url']) };
  }
  const ref = asRecord(spec.ref) ?? {};
  const digest = asString(ref.digest);
  const semver = asString(ref.semver);
  const tag = asString(ref.tag);
  const reference: OciReference = digest ? { digest } : semver ? { semver } : { tag: tag ?? DEFAULT_TAG };
  return { id, url: url.replace(/\/+$/, ''), reference, insecure: spec.insecure === true };
}

function describeReference(reference: OciReference): string {
  if ('digest' in reference) return `@${reference.digest}`;
  if ('semver' in reference) return `semver ${reference.semver}`;
  return `tag ${reference.tag}`;
}
