/**
 * The few Forgejo (and Gitea) API v1 request bodies the guard sends, written from the
 * definitions of Forgejo's API description (`/swagger.v1.json`, served by every instance at
 * /api/swagger): CreateStatusOption, CreatePullReviewOptions with CreatePullReviewComment,
 * CreateIssueCommentOption and EditIssueCommentOption. No npm package ships that file.
 */
const createStatusOption = {
  type: 'object',
  additionalProperties: false,
  properties: {
    context: { type: 'string' },
    description: { type: 'string' },
    state: { enum: ['pending', 'success', 'error', 'failure', 'warning'] },
    target_url: { type: 'string' },
  },
};

const createPullReviewComment = {
  type: 'object',
  additionalProperties: false,
  properties: {
    body: { type: 'string' },
    new_position: { type: 'integer', description: 'if comment to new file line or 0' },
    old_position: { type: 'integer', description: 'if comment to old file line or 0' },
    path: { type: 'string', description: 'the tree path' },
  },
};

const createPullReviewOptions = {
  type: 'object',
  additionalProperties: false,
  properties: {
    body: { type: 'string' },
    comments: { type: 'array', items: createPullReviewComment },
    commit_id: { type: 'string' },
    event: { enum: ['APPROVED', 'PENDING', 'COMMENT', 'REQUEST_CHANGES', 'REQUEST_REVIEW', ''] },
  },
};

const issueCommentOption = { type: 'object', additionalProperties: false, required: ['body'], properties: { body: { type: 'string' } } };

export interface ForgejoOperation {
  method: string;
  path: string;
  body?: object;
}

export const FORGEJO_OPERATIONS: ForgejoOperation[] = [
  { method: 'POST', path: '/repos/{owner}/{repo}/statuses/{sha}', body: createStatusOption },
  { method: 'GET', path: '/repos/{owner}/{repo}/pulls/{index}.{diffType}' },
  { method: 'GET', path: '/repos/{owner}/{repo}/pulls/{index}/reviews' },
  { method: 'POST', path: '/repos/{owner}/{repo}/pulls/{index}/reviews', body: createPullReviewOptions },
  { method: 'GET', path: '/repos/{owner}/{repo}/pulls/{index}/reviews/{id}/comments' },
  { method: 'DELETE', path: '/repos/{owner}/{repo}/pulls/{index}/reviews/{id}' },
  { method: 'GET', path: '/repos/{owner}/{repo}/issues/{index}/comments' },
  { method: 'POST', path: '/repos/{owner}/{repo}/issues/{index}/comments', body: issueCommentOption },
  { method: 'PATCH', path: '/repos/{owner}/{repo}/issues/comments/{id}', body: issueCommentOption },
];
