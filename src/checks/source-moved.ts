import type { RenderOutcome } from '../flux/render.js';
import { SOURCE_MOVED_RULE } from '../flux/kustomization-source.js';

const NOT_CHECKED_RULE = 'render/source-not-checked';

/**
 * A release whose chart comes from a source the guard cannot check (another repository), judged
 * against the base: already there at base, it stays a notice; rendered and checked at base, the
 * change made it unverifiable, which blocks (the base is the evidence); new in the change (or not
 * rendered at base for another reason), a warning.
 */
export function judgeUncheckedSource(head: RenderOutcome, base: RenderOutcome | undefined): RenderOutcome {
  const inBase = base !== undefined;
  if (head.ok || !head.notChecked || !head.failures.some((f) => f.rule === NOT_CHECKED_RULE)) return head;
  if (base?.ok) {
    const was = base.rendered.chartDescription;
    return {
      ...head,
      failures: head.failures.map((f) =>
        f.rule !== NOT_CHECKED_RULE
          ? f
          : {
              ...f,
              rule: SOURCE_MOVED_RULE,
              severity: 'error',
              message: `the base rendered and checked its chart (${was}); this change moves it onto a source the guard cannot check, so what the base checked is now unverifiable: ${f.message}. If that source is this repository, map it at the base first (.guard.yaml gitRepositories, merged before this change); otherwise keep the chart where the guard can check it`,
              detail: `base: chart ${was}, rendered and checked`,
            },
      ),
    };
  }
  // Already from a source the guard cannot check at base: nothing the base checked is lost.
  if (inBase && base && !base.ok && base.failures.some((f) => f.rule === NOT_CHECKED_RULE)) return head;
  return { ...head, failures: head.failures.map((f) => (f.rule === NOT_CHECKED_RULE ? { ...f, severity: 'warning', message: `${f.message} (${inBase ? 'the base did not render it either' : 'a release this change adds'}: nothing in it is checked)` } : f)) };
}
