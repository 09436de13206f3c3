import type { Subject } from '../findings.js';
import type { HelmRelease } from '../flux/helmrelease.js';
import type { PositionedValues } from '../flux/values-merge.js';
import type { RenderedContainer, RenderedInspection } from './workloads.js';

/** A HelmRelease after rendering: what a check needs to judge it. */
export interface RenderedRelease {
  release: HelmRelease;
  subject: Subject;
  releaseName: string;
  namespace: string;
  /** Merged user values with, for each node, the line that set it. */
  values: PositionedValues;
  /** Chart defaults that come from valuesFiles in the repository (HelmChart/HelmRelease valuesFiles), with their lines. */
  chartDefaults?: PositionedValues;
  containers: RenderedContainer[];
  /** What reading the rendered output found besides containers (duplicate keys, kinds not inspected). */
  inspection?: RenderedInspection;
  chartDescription: string;
  /** The manifests as Flux would apply them (after post-renderers), when the caller asked to keep them. */
  manifests?: string;
}
