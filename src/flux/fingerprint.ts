import { createHash, type Hash } from 'node:crypto';
import path from 'node:path';
import type { Snapshot } from '../git/repo.js';
import { findChartRefObject, findSourceObject, readHelmChart } from './chart-ref.js';
import { confined } from './chart-values-files.js';
import { localDependencyFolders, snapshotFiles } from './chart-dependencies.js';
import type { RepoInventory } from './discover.js';
import type { ChartSpec, HelmRelease } from './helmrelease.js';
import { findReferenced } from './values-sources.js';

/**
 * Digest of everything a release's render depends on in the repository: the HelmRelease,
 * the objects its valuesFrom names, its chart source objects (chartRef, HelmChart, repository)
 * and, for charts in the repository, the chart's files. Equal digests at base and head mean the
 * change cannot affect the render.
 */
export async function releaseFingerprint(release: HelmRelease, inventory: RepoInventory, snapshot: Snapshot): Promise<string> {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(release.object.body));
  for (const reference of release.valuesFrom) {
    const source = findReferenced(inventory, reference.kind, release.namespace, reference.name, release.object.file, release.object.cluster);
    hash.update(JSON.stringify(source?.body ?? null));
    // Not found as an object: it may still be made from files beside the release (a generator the
    // guard could not build), so any change there counts.
    if (!source) hash.update(await snapshot.treeDigest(path.posix.dirname(release.object.file)));
  }
  hash.update(JSON.stringify(release.object.variables?.map((v) => [v.name, v.value]) ?? null));
  if (release.chart) await hashChartSource(hash, release.chart, inventory, snapshot);
  if (release.chartRef) {
    const referenced = findChartRefObject(release.chartRef, inventory);
    hash.update(JSON.stringify(referenced?.body ?? null));
    const helmChart = referenced?.kind === 'HelmChart' ? readHelmChart(referenced) : undefined;
    if (helmChart?.ok) await hashChartSource(hash, helmChart.chart, inventory, snapshot);
  }
  return hash.digest('hex');
}

async function hashChartSource(hash: Hash, chart: ChartSpec, inventory: RepoInventory, snapshot: Snapshot): Promise<void> {
  const { sourceRef } = chart;
  const sourceObject = findSourceObject(inventory, sourceRef.kind, sourceRef.namespace, sourceRef.name);
  hash.update(JSON.stringify(sourceObject?.body ?? null));
  if (sourceRef.kind === 'GitRepository') {
    const chartDir = path.posix.normalize(chart.name.replace(/^\.\//, ''));
    hash.update(await snapshot.treeDigest(chartDir));
    // source-controller packs the chart's file:// dependencies into it: a change there re-renders.
    for (const dir of await localDependencyFolders(chartDir, snapshotFiles(snapshot))) hash.update(`\0${dir}\0${await snapshot.treeDigest(dir)}`);
    // valuesFiles of a GitRepository chart may live anywhere in the repository.
    for (const file of chart.valuesFiles) hash.update((await snapshot.readFile(confined(file))) ?? '\0missing');
  }
}
