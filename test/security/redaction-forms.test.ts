import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSecretDerived } from '../../src/checks/secret-args.js';
import { checkRevisions } from '../../src/engine.js';
import { mergeFluxValues } from '../../src/flux/values-merge.js';
import type { RenderedRelease } from '../../src/model/release.js';
import { maskSecretSource } from '../../src/report/masked-source.js';
import { redactReport, REDACTED, scrubUrlCredentials, sensitiveEnvironment, sensitiveForms, textRedactor } from '../../src/report/redact.js';
import { renderSarif } from '../../src/report/sarif.js';
import { renderText } from '../../src/report/text.js';
import { BASE_VALUES, exampleRepo, externalDnsRelease } from '../support/scenario.js';

/**
 * The encoded and transformed forms a Secret value or a token of the guard can take in what a tool
 * or a chart prints (helper F3): hex, base32, case changes, JSON escapes, wrapped base64; the
 * guard's own keys; URL passwords with `@`; Secret documents whose kind YAML spells another way.
 */

const SECRET = 'Tok<en>&S3cr3t-4242xyzQ';
const TOKEN = 'ghs_F3formsJobT0ken0123456789abcdEF';

/** RFC 4648 base32 written independently of the code under test (bit string, as the RFC describes). */
function base32(bytes: Buffer): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bits = [...bytes].map((b) => b.toString(2).padStart(8, '0')).join('');
  let out = '';
  for (let i = 0; i < bits.length; i += 5) out += alphabet[parseInt(bits.slice(i, i + 5).padEnd(5, '0'), 2)];
  return out.padEnd(Math.ceil(out.length / 8) * 8, '=');
}

const windows = (secret: string, size: number) => Array.from({ length: secret.length - size + 1 }, (_, i) => secret.slice(i, i + size));
const redact = (text: string, secrets: string[] = [SECRET]) => textRedactor(secrets)(text);

describe('forms of a Secret value that a chart or a tool prints', () => {
  it('hex in either case, upper- and lower-cased, JSON-escaped as JSON.stringify and as Go toJson print it', () => {
    const goJson = '"Tok\\u003cen\\u003e\\u0026S3cr3t-4242xyzQ"';
    const printed = {
      hex: Buffer.from(SECRET).toString('hex'),
      HEX: Buffer.from(SECRET).toString('hex').toUpperCase(),
      upper: SECRET.toUpperCase(),
      lower: SECRET.toLowerCase(),
      json: JSON.stringify(SECRET),
      goJson,
    };
    for (const [name, form] of Object.entries(printed)) {
      const out = redact(`--leak=${form} rejected`);
      expect(out, name).toContain(`--leak=`);
      expect(out, name).toContain(REDACTED);
      expect(out, name).not.toContain(form.replace(/"/g, ''));
      for (const window of windows(SECRET, 8)) expect(out, `${name}: ${window}`).not.toContain(window);
    }
  });

  it('base32 whole (b32enc) and at every alignment inside a longer blob', () => {
    expect(sensitiveForms(SECRET)).toContain(base32(Buffer.from(SECRET)));
    for (let pad = 0; pad < 10; pad++) {
      const blob = base32(Buffer.from(`${'p'.repeat(pad)}=${SECRET};rest`));
      const out = redact(`b32: ${blob}`);
      expect(out, `pad ${pad}`).toContain(REDACTED);
      // What is left around the mask decodes to at most a few bytes of the value at each end.
      const left = out.split(REDACTED).map((part) => part.replace(/^b32: /, ''));
      expect(left.join('').length, `pad ${pad}`).toBeLessThan(blob.length - base32(Buffer.from(SECRET)).length + 20);
    }
  });

  it('base64 wrapped at 76 columns and hex wrapped at 60, whatever the wrap position; line count kept', () => {
    const redactToken = textRedactor([], { always: [TOKEN] });
    for (let pad = 0; pad < 80; pad++) {
      const environ = Buffer.from(`PATH=/usr/bin\0X=${'y'.repeat(pad)}\0GITHUB_TOKEN=${TOKEN}\0CI=true\0`);
      for (const [encoded, width] of [[environ.toString('base64'), 76], [environ.toString('hex'), 60]] as const) {
        const wrapped = encoded.replace(new RegExp(`(.{${width}})`, 'g'), '$1\n');
        const out = redactToken(`dump:\n${wrapped}`);
        expect(out.split('\n').length, `pad ${pad}`).toBe(`dump:\n${wrapped}`.split('\n').length);
        const joined = out.split(REDACTED).map((part) => part.replace(/\n/g, ''));
        const decoded = joined.flatMap((part) => [0, 1, 2, 3].map((drop) => (width === 76 ? Buffer.from(part.slice(drop), 'base64') : Buffer.from(part.slice(drop), 'hex')).toString('latin1')));
        for (const window of windows(TOKEN, 8)) expect(decoded.some((d) => d.includes(window)), `pad ${pad} width ${width}: ${window}`).toBe(false);
      }
    }
  });

  it('an indented wrapped run (a YAML block scalar) is matched too, and text with no match is returned as it is', () => {
    const encoded = Buffer.from(`prefix-${SECRET}-suffix-long-enough`).toString('base64');
    const yaml = `data:\n  blob: |\n    ${encoded.slice(0, 20)}\n    ${encoded.slice(20)}\nnext: line\n`;
    const out = redact(yaml);
    expect(out).toContain(REDACTED);
    expect(out.split('\n')).toHaveLength(yaml.split('\n').length);
    expect(out).toContain('next: line');
    const plain = 'helm template failed\n  Error: values don\'t meet the specifications\nABCDEF\nGHIJKL\n';
    expect(redact(plain)).toBe(plain);
  });

  it('issue 13 item 14: short common words from Secrets are not searched, in any case; rule ids, severities, paths, subjects stay', () => {
    const finding = {
      rule: 'container-flags/unknown-flag', severity: 'error' as const, message: 'HELM Networking warning: unknown flag --leak', location: { path: 'apps/helm.yaml', line: 3 },
      subject: { kind: 'HelmRelease' as const, namespace: 'networking', name: 'helm' }, introduced: true, evidence: ['68656c6d 6e6574776f726b696e67 NETWORKING'],
    };
    const report = { findings: [finding] };
    expect(redactReport(report, ['helm', 'networking', 'warning', 'error', 'container-flags'])).toEqual(report);
  });
});

describe('the guard\'s own keys', () => {
  it('are picked by name (*_KEY, *_KEYS, SSH_*, *AGE*KEY*) and by value (age keys, PEM blocks) whatever the name', () => {
    const age = 'AGE-SECRET-KEY-1F3QQQ9Z8Y7X6W5V4U3T2S1R0QPONMLKJIHGFEDCBA0987654321';
    const pem = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n';
    const env = {
      SOPS_AGE_KEY: age, DEPLOY_KEY: 'deploy-key-value-1', SIGNING_KEYS: 'k1-value,k2-value', SSH_AUTH_PASSPHRASE: 'passphrase-77x',
      MY_AGE_RECIPIENT_KEYFILE: '/run/keys/age.txt', SOMETHING: `  ${age}`, OTHER: pem,
      HOME: '/root', PATH: '/usr/bin:/bin', KEYBOARD: 'us-international', DEPLOY_KEY_SHORT: 'short', LANG: 'C.UTF-8',
    };
    expect(sensitiveEnvironment(env).sort()).toEqual([age, 'deploy-key-value-1', 'k1-value,k2-value', 'passphrase-77x', '/run/keys/age.txt', `  ${age}`, pem].sort());
    const [out] = redactReport({ findings: [{ message: `sops: failed with ${age}`, evidence: [pem] }] }, [], sensitiveEnvironment(env)).findings;
    expect(JSON.stringify(out)).not.toContain('AGE-SECRET-KEY-1F3');
    expect(JSON.stringify(out)).not.toContain('b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ');
  });
});

describe('URL credentials', () => {
  it('end at the last @ of the authority, as URL parsers read them', () => {
    for (const url of ['https://ci:Mirr0r@Pa55w0rd-7@mirror.internal/charts', 'oci://u:p@ss@w0rd@@registry.example:5000/charts?x=1', 'http://u:p@ss@host']) {
      const password = decodeURIComponent(new URL(url.replace(/^oci:/, 'http:')).password);
      const out = scrubUrlCredentials(`fetching ${url} failed`);
      expect(out, url).not.toContain(password.slice(-4));
      expect(out, url).toContain(`***@${new URL(url.replace(/^oci:/, 'http:')).host}`);
    }
  });

  it('leave plain URLs, paths holding @, ssh git@ users and e-mail addresses as they are', () => {
    for (const text of ['https://github.com/org/repo@v1', 'ssh://git@github.com/org/repo', 'mail admin@example.com', 'https://host/a?b=c@d', 'https://host#x@y']) {
      expect(scrubUrlCredentials(text)).toBe(text);
    }
  });
});

describe('Secret documents in code frames', () => {
  const body = (kind: string) => `apiVersion: v1\n${kind}\nmetadata:\n  name: x\nstringData:\n  password: F3Secret-42x\n`;

  it('are recognised whatever YAML spelling names the kind: anchor, tag, next line, alias, quoted key, flow map', () => {
    for (const kind of ['kind: &k Secret', 'kind: !!str Secret', 'kind: &k !!str Secret', 'kind:\n  Secret', 'kind: &k\n  Secret', '"kind": "Secret"', 'kind: >-\n  Secret']) {
      const text = body(kind);
      const out = maskSecretSource(text, 'apps/x.yaml');
      expect(out, kind).not.toContain('F3Secret-42x');
      expect(out.split('\n'), kind).toHaveLength(text.split('\n').length);
      expect(out, kind).toContain('  name: x');
    }
    const aliased = `x: &s Secret\n${body('kind: *s')}`;
    expect(maskSecretSource(aliased, 'apps/x.yaml')).not.toContain('F3Secret-42x');
    const flow = '{apiVersion: v1, kind: &k Secret, stringData: {password: F3Secret-42x}}\n';
    expect(maskSecretSource(flow, 'apps/x.yaml')).not.toContain('F3Secret-42x');
  });

  it('a broken Secret (bad indentation) with an anchored kind is masked; other kinds spelled the same way are left alone', () => {
    const broken = 'apiVersion: v1\nkind: &k Secret\nmetadata:\n  name: broken\nstringData:\n  password: F3Secret-42x\n   token: [F3Secret-42x\n';
    expect(maskSecretSource(broken, 'apps/x.yaml')).not.toContain('F3Secret-42x');
    const configMap = 'apiVersion: v1\nkind: &k ConfigMap\nmetadata:\n  name: SecretStore-notes\ndata:\n  note: keep-me-42\n';
    expect(maskSecretSource(configMap, 'apps/x.yaml')).toBe(configMap);
    const nextLine = 'apiVersion: v1\nkind:\n  ConfigMap\ndata:\n  note: Secret keep-me-42\n';
    expect(maskSecretSource(nextLine, 'apps/x.yaml')).toBe(nextLine);
  });
});

describe('arguments a chart renders from Secret values', () => {
  const valuesWith = (secret: Record<string, unknown>, plain: Record<string, unknown> = {}) => mergeFluxValues([
    { kind: 'document', values: secret, positions: new Map(), origin: { path: 's.yaml', line: 1 }, secret: true },
    { kind: 'document', values: plain, positions: new Map(), origin: { path: 'hr.yaml', line: 1 } },
  ]);
  // isSecretDerived reads only the merged values of a rendered release.
  const rendered = (values: ReturnType<typeof valuesWith>) => ({ values } as unknown as RenderedRelease);

  it('are recognised in any transformed form, short word-like values included, when compared whole', () => {
    const release = rendered(valuesWith({ db: { password: 'swordfish' }, leak: SECRET }, { replicas: 2, name: 'external-dns' }));
    for (const arg of ['--p=swordfish', '--p=SWORDFISH', `--p=${Buffer.from('swordfish').toString('hex')}`, `--p=${Buffer.from('swordfish').toString('base64')}`, `--p=${base32(Buffer.from('swordfish'))}`, '--p="swordfish"', `--leak-json=${JSON.stringify(SECRET).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026')}`, `--x=prefix-${Buffer.from(SECRET).toString('hex')}`]) {
      expect(isSecretDerived(release, arg), arg).toBe(true);
    }
    for (const arg of ['--name=external-dns', '--replicas=2', '--p=sword', '--provider=cloudflare', '--txt-owner-id=swordfish-prod']) expect(isSecretDerived(release, arg), arg).toBe(false);
    expect(isSecretDerived(rendered(valuesWith({}, { leak: 'swordfish' })), '--p=swordfish')).toBe(false);
  });
});

describe('end to end: a chart that re-encodes a short Secret word into an unknown flag', () => {
  let cacheDir: string;
  beforeAll(async () => {
    cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-f3-forms-'));
  });
  afterAll(async () => {
    await fs.rm(cacheDir, { recursive: true, force: true });
  });

  it('quotes the argument masked, flag name readable, in JSON, SARIF and text', async () => {
    const WORD = 'swordfish';
    const repo = await exampleRepo();
    try {
      const template = await fs.readFile(path.join(repo.dir, 'charts/external-dns/templates/deployment.yaml'), 'utf8');
      const leaking = template.replace('            - --provider={{ .Values.provider.name }}\n', [
        '            - --provider={{ .Values.provider.name }}',
        '            {{- with .Values.leak }}',
        '            - --leak-hex={{ printf "%x" . }}',
        '            - --leak-upper={{ upper . }}',
        '            - --leak-b64={{ b64enc . }}',
        '            {{- end }}',
        '',
      ].join('\n'));
      expect(leaking).not.toBe(template);
      const secret = `apiVersion: v1\nkind: Secret\nmetadata:\n  name: leak-values\n  namespace: networking\nstringData:\n  values.yaml: |\n    leak: ${WORD}\n`;
      await repo.commit('encode it', {
        'charts/external-dns/templates/deployment.yaml': leaking,
        'infrastructure/external-dns/leak-values.yaml': secret,
        'infrastructure/external-dns/helmrelease.yaml': externalDnsRelease(BASE_VALUES, { valuesFrom: [{ kind: 'Secret', name: 'leak-values' }] }),
      });
      const { report, secrets } = await checkRevisions({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
      const leaks = report.findings.filter((f) => f.rule === 'container-flags/unknown-flag' && /--leak-/.test(f.message));
      expect(leaks.length).toBeGreaterThanOrEqual(3);
      for (const finding of leaks) expect(finding.evidence?.join('\n')).toMatch(/--leak-(hex|upper|b64)=\*\*\*REDACTED\*\*\*/);
      const text = await renderText(report, (file) => fs.readFile(path.join(repo.dir, file), 'utf8'), { color: false, secrets });
      const forms = [Buffer.from(WORD).toString('hex'), WORD.toUpperCase(), Buffer.from(WORD).toString('base64')];
      for (const output of [JSON.stringify(report), JSON.stringify(renderSarif(report)), text]) {
        for (const form of forms) expect(output, form).not.toContain(form);
        expect(output).toContain('container-flags/unknown-flag');
      }
    } finally {
      await repo.remove();
    }
  });
});
