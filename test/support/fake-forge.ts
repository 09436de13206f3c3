import { Ajv, type ValidateFunction } from 'ajv';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { commentableLines } from '../../src/git/unified-diff.js';
import { FORGEJO_OPERATIONS } from './forgejo-api.js';
import { repoRoot } from './paths.js';

export type ForgeKind = 'github' | 'forgejo';

interface Operation {
  method: string;
  template: string;
  pattern: RegExp;
  params: number;
  schema?: object;
}

export interface RecordedRequest {
  method: string;
  path: string;
  body: unknown;
  violation?: string;
}

interface Comment {
  id: number;
  body: string;
  path?: string;
  line?: number;
  reviewId?: number;
}

const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
const validators = new Map<object, ValidateFunction>();
let githubOperations: Operation[] | undefined;

function compile(template: string): { pattern: RegExp; params: number } {
  const params = (template.match(/\{[^}]+\}/g) ?? []).length;
  const source = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '([^/]+?)').replace(/\{[^}]+\}/g, '([^/]+?)');
  return { pattern: new RegExp(`^${source}$`), params };
}

/** OpenAPI 3.0 `nullable` is not JSON Schema: turn it into a type union for ajv. */
function toJsonSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toJsonSchema);
  if (schema === null || typeof schema !== 'object') return schema;
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'example' || key === 'examples' || key === 'nullable' || key === 'discriminator') continue;
    result[key] = toJsonSchema(value);
  }
  const original = schema as { nullable?: boolean; type?: string };
  if (original.nullable && typeof original.type === 'string') result.type = [original.type, 'null'];
  if (original.nullable && result.enum) result.enum = [...(result.enum as unknown[]), null];
  return result;
}

/** GitHub's official REST description, as shipped by @octokit/openapi. */
function loadGitHubOperations(): Operation[] {
  if (githubOperations) return githubOperations;
  const spec = JSON.parse(readFileSync(`${repoRoot}/node_modules/@octokit/openapi/generated/api.github.com.deref.json`, 'utf8')) as {
    paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: object }> } }>>;
  };
  const operations: Operation[] = [];
  for (const [template, item] of Object.entries(spec.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (!['get', 'post', 'patch', 'put', 'delete'].includes(method)) continue;
      const schema = operation.requestBody?.content?.['application/json']?.schema;
      operations.push({ method: method.toUpperCase(), template, ...compile(template), schema: schema ? (toJsonSchema(schema) as object) : undefined });
    }
  }
  githubOperations = operations.sort((a, b) => a.params - b.params);
  return githubOperations;
}

function forgejoOperations(): Operation[] {
  return FORGEJO_OPERATIONS.map((op) => ({ method: op.method, template: op.path, ...compile(op.path), schema: op.body })).sort((a, b) => a.params - b.params);
}

/**
 * A forge on 127.0.0.1 that checks every request against the forge's API description (method,
 * path and JSON body), keeps the state a real forge would (statuses, comments, reviews, check runs)
 * and enforces the rules the guard must respect: review comments only on diff lines, at most 50
 * annotations per request.
 */
export class FakeForge {
  readonly requests: RecordedRequest[] = [];
  readonly statuses: Array<{ sha: string; state: string; context: string; description?: string }> = [];
  readonly issueComments: Comment[] = [];
  readonly reviewComments: Comment[] = [];
  readonly reviews: Array<{ id: number; body: string }> = [];
  readonly checkRuns: Array<{ id: number; annotations: number; conclusion?: string }> = [];
  diff = '';
  private nextId = 1000;
  private faults: Array<{ method: string; path: RegExp; status: number; times: number }> = [];
  private readonly operations: Operation[];

  private constructor(
    readonly kind: ForgeKind,
    private readonly server: http.Server,
    readonly apiUrl: string,
  ) {
    this.operations = kind === 'github' ? loadGitHubOperations() : forgejoOperations();
  }

  static async start(kind: ForgeKind): Promise<FakeForge> {
    const holder: { forge?: FakeForge } = {};
    const server = http.createServer((request, response) => {
      let data = '';
      request.on('data', (chunk: Buffer) => (data += chunk.toString('utf8')));
      request.on('end', () => holder.forge!.handle(request, data, response));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    holder.forge = new FakeForge(kind, server, kind === 'github' ? `http://127.0.0.1:${port}` : `http://127.0.0.1:${port}/api/v1`);
    return holder.forge;
  }

  /** The next `times` requests matching method and path answer with `status`. */
  fail(method: string, path: RegExp, status: number, times = 1): void {
    this.faults.push({ method, path, status, times });
  }

  violations(): string[] {
    return this.requests.filter((r) => r.violation).map((r) => `${r.method} ${r.path}: ${r.violation}`);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(request: http.IncomingMessage, data: string, response: http.ServerResponse): void {
    const method = request.method ?? 'GET';
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const path = this.kind === 'forgejo' ? url.pathname.replace(/^\/api\/v1/, '') : url.pathname;
    let body: unknown;
    try {
      body = data ? JSON.parse(data) : undefined;
    } catch {
      body = data;
    }
    const record: RecordedRequest = { method, path, body };
    this.requests.push(record);
    const operation = this.operations.find((op) => op.method === method && op.pattern.test(path));
    if (!operation) {
      record.violation = 'no such operation in the API description';
      return this.send(response, 404, { message: 'Not Found' });
    }
    if (operation.schema) {
      let validate = validators.get(operation.schema);
      if (!validate) validators.set(operation.schema, (validate = ajv.compile(operation.schema)));
      if (!validate(body)) {
        record.violation = `body does not match ${operation.template}: ${ajv.errorsText(validate.errors)}`;
        return this.send(response, 422, { message: 'Validation Failed' });
      }
    }
    const fault = this.faults.find((f) => f.method === method && f.path.test(path) && f.times > 0);
    if (fault) {
      fault.times--;
      return this.send(response, fault.status, { message: 'injected fault' });
    }
    const params = operation.pattern.exec(path)!.slice(1);
    this.route(operation.template, method, params, body as Record<string, unknown>, request, response);
  }

  private route(template: string, method: string, params: string[], body: Record<string, unknown>, request: http.IncomingMessage, response: http.ServerResponse): void {
    const id = () => this.nextId++;
    const key = `${method} ${template.replace(/^\/repos\/\{owner\}\/\{repo\}/, '')}`;
    const diffLines = commentableLines(this.diff);
    const onDiff = (path: unknown, line: unknown) => typeof path === 'string' && typeof line === 'number' && diffLines.get(path)?.has(line) === true;
    switch (key) {
      case 'POST /statuses/{sha}':
        this.statuses.push({ sha: params[2]!, state: String(body.state), context: String(body.context), description: body.description as string | undefined });
        return this.send(response, 201, { id: id(), state: body.state, context: body.context });
      case 'GET /pulls/{pull_number}':
        if (!String(request.headers.accept ?? '').includes('diff')) return this.send(response, 200, { number: Number(params[2]) });
        return this.sendText(response, this.diff);
      case 'GET /pulls/{index}.{diffType}':
        return this.sendText(response, this.diff);
      case 'GET /pulls/{pull_number}/comments':
        return this.send(response, 200, this.reviewComments.map((c) => ({ id: c.id, body: c.body, path: c.path, line: c.line })));
      case 'DELETE /pulls/comments/{comment_id}':
        this.remove(this.reviewComments, Number(params[2]));
        return this.send(response, 204);
      case 'POST /pulls/{pull_number}/reviews':
      case 'POST /pulls/{index}/reviews': {
        const comments = (body.comments as Array<Record<string, unknown>> | undefined) ?? [];
        const bad = comments.find((c) => !onDiff(c.path, this.kind === 'github' ? c.line : c.new_position));
        if (bad) return this.send(response, 422, { message: 'Unprocessable Entity', errors: ['Line could not be resolved'] });
        const reviewId = id();
        this.reviews.push({ id: reviewId, body: String(body.body ?? '') });
        for (const c of comments) this.reviewComments.push({ id: id(), body: String(c.body), path: String(c.path), line: Number(this.kind === 'github' ? c.line : c.new_position), reviewId });
        return this.send(response, 200, { id: reviewId, body: body.body });
      }
      case 'GET /pulls/{index}/reviews':
        return this.send(response, 200, this.reviews.map((r) => ({ id: r.id, body: r.body })));
      case 'GET /pulls/{index}/reviews/{id}/comments':
        return this.send(response, 200, this.reviewComments.filter((c) => c.reviewId === Number(params[3])).map((c) => ({ id: c.id, body: c.body, path: c.path, position: c.line })));
      case 'DELETE /pulls/{index}/reviews/{id}': {
        const reviewId = Number(params[3]);
        this.remove(this.reviews, reviewId);
        for (const c of this.reviewComments.filter((c) => c.reviewId === reviewId)) this.remove(this.reviewComments, c.id);
        return this.send(response, 204);
      }
      case 'GET /issues/{issue_number}/comments':
      case 'GET /issues/{index}/comments':
        return this.send(response, 200, this.issueComments.map((c) => ({ id: c.id, body: c.body })));
      case 'POST /issues/{issue_number}/comments':
      case 'POST /issues/{index}/comments': {
        const comment = { id: id(), body: String(body.body) };
        this.issueComments.push(comment);
        return this.send(response, 201, comment);
      }
      case 'PATCH /issues/comments/{comment_id}':
      case 'PATCH /issues/comments/{id}': {
        const comment = this.issueComments.find((c) => c.id === Number(params[2]));
        if (!comment) return this.send(response, 404, { message: 'Not Found' });
        comment.body = String(body.body);
        return this.send(response, 200, comment);
      }
      case 'POST /check-runs':
      case 'PATCH /check-runs/{check_run_id}': {
        const annotations = ((body.output as { annotations?: unknown[] } | undefined)?.annotations ?? []).length;
        if (annotations > 50) return this.send(response, 422, { message: 'Only 50 annotations are allowed per request' });
        if (method === 'POST') {
          const run = { id: id(), annotations, conclusion: body.conclusion as string | undefined };
          this.checkRuns.push(run);
          return this.send(response, 201, run);
        }
        const run = this.checkRuns.find((r) => r.id === Number(params[2]));
        if (run) run.annotations += annotations;
        return this.send(response, 200, run ?? {});
      }
      default:
        return this.send(response, 501, { message: `the fake forge does not implement ${key}` });
    }
  }

  private remove<T extends { id: number }>(list: T[], id: number): void {
    const index = list.findIndex((item) => item.id === id);
    if (index >= 0) list.splice(index, 1);
  }

  private send(response: http.ServerResponse, status: number, body?: unknown): void {
    response.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
    response.end(body === undefined ? undefined : JSON.stringify(body));
  }

  private sendText(response: http.ServerResponse, text: string): void {
    response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    response.end(text);
  }
}
