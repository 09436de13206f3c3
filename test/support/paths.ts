import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const fixtures = fileURLToPath(new URL('../../fixtures/', import.meta.url));
export const externalDnsData = fileURLToPath(new URL('../../fixtures/external-dns/', import.meta.url));
export const incidentFixture = fileURLToPath(new URL('../../fixtures/incident/', import.meta.url));
export const fluxSitesFixture = fileURLToPath(new URL('../../fixtures/flux-sites/', import.meta.url));
