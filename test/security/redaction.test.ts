import { describe, expect, it } from 'vitest';
import type { Finding } from '../../src/findings.js';
import { maskSecretSource } from '../../src/report/masked-source.js';
import { isCredentialLike, maskArgument, redactReport, redactValueInFinding, REDACTED, scrubUrlCredentials, sensitiveForms, textRedactor } from '../../src/report/redact.js';
import { secretFragments } from '../../src/flux/values-sources.js';

const TOKEN = 'ghs_R4nd0mJ0bT0kenValue1234';

/** Whether any 6-byte window of `secret` can be decoded from a base64 run left in `text`, at any alignment. */
function base64Leaks(text: string, secret: string): boolean {
  const windows = Array.from({ length: secret.length - 5 }, (_, i) => secret.slice(i, i + 6));
  for (const run of text.split(REDACTED).flatMap((part) => part.match(/[A-Za-z0-9+/_-]{8,}/g) ?? [])) {
    for (let drop = 0; drop < 4; drop++) {
      const decoded = Buffer.from(run.slice(drop).replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('latin1');
      if (windows.some((w) => decoded.includes(w))) return true;
    }
  }
  return false;
}

function finding(overrides: Partial<Finding>): Finding {
  return {
    rule: 'helmrelease/remediation',
    severity: 'warning',
    message: 'HelmRelease networking/helm: upgrade has no remediation',
    location: { path: 'infrastructure/helm/latest/helmrelease.yaml', line: 3 },
    subject: { kind: 'HelmRelease', namespace: 'networking', name: 'helm', container: 'latest', image: 'helm:latest' },
    introduced: true,
    ...overrides,
  };
}

describe('which Secret values the safety net searches for', () => {
  it('never ordinary words, identifiers, addresses or image names', () => {
    for (const word of ['helm', 'latest', 'warning', 'error', 'true', 'info', 'networking', 'kube-system', 'LoadBalancer', 'externalTrafficPolicy', 'registry.k8s.io/external-dns/external-dns', '10.0.0.0/8', 'v0.14.1', 'cert-manager.io', 'Managed by Flux', 'k8s-gateway']) {
      expect(isCredentialLike(word), word).toBe(false);
    }
  });

  it('always credentials: digits mixed into words, symbols, random runs, SOPS blobs', () => {
    for (const secret of ['hunter2-very-secret-token', TOKEN, 'Passw0rd!', '12345678', 'xKqPzRmTwYvLbNcD', 'ENC[AES256_GCM,data:abcd,iv:efgh,tag:ij==,type:str]', 'correct horse battery 42staple', 'qwxzvbnmlkjhgfdsapoiuytrewq']) {
      expect(isCredentialLike(secret), secret).toBe(true);
    }
  });
});

describe('the safety net over a report', () => {
  it('leaves rule ids, severities, paths, subjects untouched whatever short words a Secret holds', () => {
    const report = { version: 1, findings: [finding({}), finding({ rule: 'container-flags/unknown-flag', severity: 'error', evidence: ['helm would exit with: warning'] })] };
    const redacted = redactReport(report, ['helm', 'latest', 'warning', 'error', 'true', 'info', 'networking', 'remediation']);
    expect(redacted).toEqual(report);
  });

  it('redacts a credential in free text only, never in structure', () => {
    const report = {
      findings: [finding({
        message: `render failed: token ${TOKEN} rejected`,
        evidence: [`helm: Authorization: Bearer ${TOKEN}`],
        suggestion: `use ${TOKEN}`,
        related: [{ path: 'a.yaml', line: 1, message: `= ${TOKEN}` }],
        location: { path: `files/${TOKEN}.yaml`, line: 1 },
      })],
    };
    const [out] = redactReport(report, [TOKEN]).findings;
    expect(JSON.stringify([out!.message, out!.evidence, out!.suggestion, out!.related])).not.toContain(TOKEN);
    expect(out!.message).toBe(`render failed: token ${REDACTED} rejected`);
    expect(out!.location.path).toBe(`files/${TOKEN}.yaml`);
  });

  it('redacts base64 forms at every alignment, with and without the newline of `echo | base64`, URL-safe too', () => {
    const redact = textRedactor([TOKEN]);
    for (const prefix of ['', 'x', 'xy', 'x-access-token:', 'AUTHORIZATION: basic ']) {
      for (const tail of ['', '\n', '\r\n', ' trailing bytes']) {
        const standard = Buffer.from(`${prefix}${TOKEN}${tail}`).toString('base64');
        const urlSafe = Buffer.from(`${prefix}${TOKEN}${tail}`).toString('base64url');
        for (const blob of [standard, urlSafe, `extraheader = AUTHORIZATION: basic ${standard}`]) {
          const out = redact(`evidence: ${blob}`);
          expect(out, `${JSON.stringify(prefix)} ${JSON.stringify(tail)}`).toContain(REDACTED);
          expect(base64Leaks(out, TOKEN), `${JSON.stringify(prefix)} ${JSON.stringify(tail)} -> ${out}`).toBe(false);
        }
      }
    }
  });

  it('redacts the URL-encoded form, the trimmed form and a value that arrived with a trailing newline', () => {
    const secret = 'p@ss w0rd/with:symbols&more';
    const redact = textRedactor([`${secret}\n`]);
    for (const shown of [secret, encodeURIComponent(secret), encodeURIComponent(secret).replace(/%20/g, '+')]) {
      expect(redact(`value=${shown};`)).toBe(`value=${REDACTED};`);
    }
  });

  it('keeps line breaks: a multi-line secret never shifts the lines of a code frame', () => {
    const key = '-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END KEY-----\n';
    const text = `a: 1\nkey: |\n  MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\nb: 2\n`;
    const out = textRedactor([key])(text);
    expect(out.split('\n')).toHaveLength(text.split('\n').length);
    expect(out).not.toContain('MIIBOgIBAAJBAKj34');
    expect(sensitiveForms(key).every((form) => !form.includes('\n'))).toBe(true);
  });
});

describe('credentials inside URLs', () => {
  it('are scrubbed from any text, password or token user alike', () => {
    expect(scrubUrlCredentials('helm: failed to fetch https://user:pa55word@charts.example.com/index.yaml: 401')).toBe('helm: failed to fetch https://***@charts.example.com/index.yaml: 401');
    expect(scrubUrlCredentials(`clone http://x-access-token:${TOKEN}@github.com/o/r.git`)).toBe('clone http://***@github.com/o/r.git');
    expect(scrubUrlCredentials(`oci://${TOKEN}@ghcr.io/o/chart`)).toBe('oci://***@ghcr.io/o/chart');
    expect(scrubUrlCredentials("error: 'https://u:p%40ss@host:8443/x'")).toBe("error: 'https://***@host:8443/x'");
  });

  it('leave plain URLs, ssh git@ users and e-mail addresses as they are', () => {
    for (const text of ['https://charts.example.com/index.yaml', 'ssh://git@github.com/o/r', 'git@github.com:o/r.git', 'mail admin@example.com']) {
      expect(scrubUrlCredentials(text)).toBe(text);
    }
  });

  it('are scrubbed by the report safety net even with no Secret known', () => {
    const [out] = redactReport({ findings: [finding({ evidence: ['kustomize: accumulating resources from https://bob:s3cret@git.example.com/repo: 404'] })] }, []).findings;
    expect(out!.evidence).toEqual(['kustomize: accumulating resources from https://***@git.example.com/repo: 404']);
  });
});

describe('a value a check prints that came from a Secret', () => {
  it('is masked where it is quoted, flag names stay readable, short words included', () => {
    const original = finding({
      rule: 'container-flags/bad-enum',
      message: 'Deployment/external-dns container external-dns: --log-level=hunter is not one of debug, info',
      evidence: ['rendered Deployment/external-dns container external-dns args[3]: --log-level=hunter', 'external-dns would exit with: enum value must be one of debug,info, got \'hunter\''],
      suggestion: '--log-level=info',
    });
    const out = redactValueInFinding(original, '--log-level=hunter');
    expect(JSON.stringify(out)).not.toContain('hunter');
    expect(out.message).toBe(`Deployment/external-dns container external-dns: --log-level=${REDACTED} is not one of debug, info`);
    expect(out.suggestion).toBe('--log-level=info');
    expect(out.rule).toBe('container-flags/bad-enum');
    expect(maskArgument('--password=hunter')).toBe(`--password=${REDACTED}`);
    expect(maskArgument('hunter')).toBe(REDACTED);
  });

  it('is not masked inside longer words', () => {
    const out = redactValueInFinding(finding({ message: 'info: information about info-level' }), 'info');
    expect(out.message).toBe(`${REDACTED}: information about ${REDACTED}-level`);
  });
});

describe('values read from a Secret for the safety net', () => {
  it('are the values YAML reads: comments, quotes, flow lists, block scalars, flags', () => {
    const text = [
      'apiKey: Zq8sKx1-comment-secret # rotated 2024',
      'args: [--token=Fl0wSecretA1, "Fl0wSecretB2"]',
      'map: {user: admin, pass: Fl0wMapPass3}',
      'cert: |',
      '  MIIBLineOneOfCert9',
      '  MIIBLineTwoOfCert8',
      'quoted: "Qu0tedSecret#notcomment"',
      '',
    ].join('\n');
    const fragments = secretFragments(text);
    for (const expected of ['Zq8sKx1-comment-secret', 'Fl0wSecretA1', 'Fl0wSecretB2', 'Fl0wMapPass3', 'MIIBLineOneOfCert9', 'MIIBLineTwoOfCert8', 'Qu0tedSecret#notcomment']) {
      expect(fragments, expected).toContain(expected);
    }
    expect(fragments).not.toContain('--token=Fl0wSecretA1');
  });

  it('are still found line by line in a Secret too broken to parse', () => {
    const fragments = secretFragments('password: Br0kenSecret1\n  bad: [indent\n\t- TabSecret22x # c\n');
    expect(fragments).toContain('Br0kenSecret1');
    expect(fragments).toContain('TabSecret22x');
  });
});

describe('code frames of Secret files', () => {
  const secretFile = [
    'apiVersion: v1',
    'kind: Secret',
    'metadata:',
    '  name: dns-credentials # the one',
    '  namespace: networking',
    '  annotations:',
    '    kubectl.kubernetes.io/last-applied-configuration: \'{"data":{"token":"c2VjcmV0"}}\'',
    'type: Opaque',
    'stringData:',
    '  token: Zq8sKx1-comment-secret # rotated',
    '  list: [FlowSecretOne1, FlowSecretTwo2]',
    '  values.yaml: |',
    '    extraArgs:',
    '      - --cloudflare-api-token=BlockSecret33',
    '    # password: CommentSecret44',
    '    nested:',
    '      key: "QuotedSecret55"',
    'data:',
    '  raw: QmFzZTY0U2VjcmV0NjY=',
    '---',
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata:',
    '  name: plain',
    'data:',
    '  logLevel: debug',
    '',
  ].join('\n');

  it('keep keys, dashes, block indicators and flag names, and lose every value and comment', () => {
    const out = maskSecretSource(secretFile, 'infrastructure/external-dns/secret.yaml');
    expect(out.split('\n')).toHaveLength(secretFile.split('\n').length);
    for (const secret of ['Zq8sKx1', 'FlowSecret', 'BlockSecret33', 'CommentSecret44', 'QuotedSecret55', 'QmFzZTY0U2VjcmV0NjY', 'c2VjcmV0', 'rotated', 'the one']) {
      expect(out, secret).not.toContain(secret);
    }
    const lines = out.split('\n');
    expect(lines[1]).toBe('kind: Secret');
    expect(lines[3]).toBe('  name: dns-credentials');
    expect(lines[4]).toBe('  namespace: networking');
    expect(lines[9]).toBe(`  token: ${REDACTED}`);
    expect(lines[10]).toBe(`  list: ${REDACTED}`);
    expect(lines[11]).toBe('  values.yaml: |');
    expect(lines[13]).toBe(`      - --cloudflare-api-token=${REDACTED}`);
    expect(lines[16]).toBe(`      key: ${REDACTED}`);
    // The ConfigMap in the same file is not a Secret: shown as written.
    expect(lines.slice(20).join('\n')).toBe(secretFile.split('\n').slice(20).join('\n'));
  });

  it('mask a Secret too broken to parse, found by its kind text or by its file name', () => {
    const broken = 'apiVersion: v1\n  kind: Secret\nstringData:\n   password: Br0kenSecret1\n  - [unclosed\n';
    expect(maskSecretSource(broken, 'apps/app.yaml')).not.toContain('Br0kenSecret1');
    const noKind = 'stringData\n\tpassword: Br0kenSecret2\n';
    expect(maskSecretSource(noKind, 'apps/db-credentials.yaml')).not.toContain('Br0kenSecret2');
    expect(maskSecretSource('{"kind":"Secret","data":{"a":"Sm9uU2VjcmV0"}}', 'apps/x.json')).not.toContain('Sm9uU2VjcmV0');
  });

  it('mask SOPS-encrypted files and leave ordinary manifests alone', () => {
    const sops = 'apiVersion: v1\nkind: ConfigMap\ndata:\n  a: ENC[AES256_GCM,data:Zm9v,type:str]\nsops:\n  age:\n    - recipient: age1qqq\n';
    expect(maskSecretSource(sops, 'apps/values.sops.yaml')).not.toContain('Zm9v');
    const release = 'apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: secrets-store\nspec:\n  values:\n    secretName: app-secret\n';
    expect(maskSecretSource(release, 'apps/external-secrets/helmrelease.yaml')).toBe(release);
  });
});

describe('forge comment bodies', () => {
  it('never carry credentials inside URLs, whatever the report holds', async () => {
    const { lineCommentBody, summaryBody } = await import('../../src/forge/markdown.js');
    const leaky = finding({ message: 'helm: failed to fetch https://bob:Pa55word-x@charts.example.com/index.yaml', evidence: ['git clone http://x-access-token:tok3n-abc@github.com/o/r'], suggestion: 'oci://u:p4ss@ghcr.io/o' });
    const report = {
      version: 1, tool: { name: 'gitops-guard', version: '0' }, base: { ref: 'main', sha: 'a'.repeat(40) }, head: { ref: 'pr', sha: 'b'.repeat(40) },
      policy: 'p', failOn: 'error', findings: [leaky], releases: [],
      summary: { errors: 0, warnings: 1, notices: 0, introduced: 1, blocking: 0, releasesChecked: 1, releasesUnchanged: 0, verdict: 'pass' },
    } as unknown as Parameters<typeof summaryBody>[0];
    for (const body of [lineCommentBody(leaky), summaryBody(report, { outsideDiff: [leaky], notes: [] })]) {
      for (const secret of ['Pa55word-x', 'tok3n-abc', 'p4ss', 'bob:']) expect(body).not.toContain(secret);
      expect(body).toContain('https://***@charts.example.com/index.yaml');
    }
  });
});

describe('cost and the rendered-manifest path', () => {
  it('redacts a report of 500 findings against 2000 secrets in well under two seconds', () => {
    const secrets = Array.from({ length: 2000 }, (_, i) => `S3cret-${i.toString(36)}-${'x'.repeat(i % 7)}Q9`);
    const findings = Array.from({ length: 500 }, (_, i) => finding({ message: `message ${i} uses ${secrets[i * 3]} `.repeat(5), evidence: ['e '.repeat(200)] }));
    const started = performance.now();
    const out = redactReport({ findings }, secrets);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(JSON.stringify(out)).not.toContain('S3cret-');
  });

  it('guard render still blanks short Secret values in manifests, where a blanked word costs less than a leak', async () => {
    const { redactFindings } = await import('../../src/report/redact.js');
    expect(redactFindings({ manifests: 'args:\n  - --password=hunter\n' }, ['hunter'])).toEqual({ manifests: `args:\n  - --password=${REDACTED}\n` });
  });
});
