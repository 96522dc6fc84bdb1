#!/usr/bin/env node
// CRM round trip through HubSpot's official Node client (@hubspot/api-client),
// pointed at a HubSpot-compatible server by HUBSPOT_BASE_PATH.
//
// Env:
//   HUBSPOT_BASE_PATH     required, e.g. http://localhost:8081/v1/apps/default/portals/62515/hubspot
//   HUBSPOT_ACCESS_TOKEN  required, sent as "Authorization: Bearer <token>" (never printed)
//   HUBSPOT_MISSING_ID    optional, id used as the missing input of the batch read (default 999999999999)
//   HUBSPOT_TIMEOUT_MS    optional, overall watchdog (default 60000)
//
// Prints ONE JSON object on stdout. Exit 0 when every step saw its expected HTTP status, else 1.
import { createRequire } from 'node:module';
import { Client } from '@hubspot/api-client';

const require = createRequire(import.meta.url);
const CLIENT_VERSION = require('@hubspot/api-client/package.json').version;

const basePathRaw = process.env.HUBSPOT_BASE_PATH;
const accessToken = process.env.HUBSPOT_ACCESS_TOKEN;
const missingId = process.env.HUBSPOT_MISSING_ID || '999999999999';
const timeoutMs = Number(process.env.HUBSPOT_TIMEOUT_MS || 60000);
const WRONG_TOKEN = 'not-a-valid-token';

const report = {
  client: '@hubspot/api-client',
  clientVersion: CLIENT_VERSION,
  node: process.version,
  basePath: basePathRaw ?? null,
  ok: false,
  allChecksPassed: false,
  failures: [],
  steps: [],
};

// The token only ever travels in the Authorization header, which nothing here records. As a second
// guard, strings that come from the server or from error objects are scrubbed of it before printing
// (tokens shorter than 8 characters are not scrubbed: that would mangle every message).
function scrub(value) {
  if (typeof value !== 'string' || !accessToken || accessToken.length < 8) return value;
  return value.split(accessToken).join('***');
}

function finish(exitCode, message) {
  report.failures = report.steps.filter((s) => !s.ok).map((s) => s.name);
  report.ok = report.failures.length === 0 && exitCode === 0;
  // value checks are informational (the exit code only reflects HTTP statuses)
  report.allChecksPassed = report.steps.length > 0 && report.steps.every((s) => s.ok && Object.values(s.checks || {}).every(Boolean));
  process.stdout.write(JSON.stringify(report) + '\n');
  const code = report.ok ? 0 : 1;
  if (code !== 0) {
    const why = message || `steps with unexpected HTTP status: ${report.failures.join(', ')}`;
    process.stderr.write(`crm-roundtrip: FAILED: ${scrub(why)}\n`);
  }
  process.exit(code);
}

if (!basePathRaw || !accessToken) {
  report.error = 'HUBSPOT_BASE_PATH and HUBSPOT_ACCESS_TOKEN must both be set';
  finish(1, report.error);
}

const watchdog = setTimeout(() => {
  report.error = `timed out after ${timeoutMs} ms`;
  finish(1, report.error);
}, timeoutMs);

// The client appends "/crm/v3/..." to basePath verbatim; strip a trailing slash so we never send "//crm".
const basePath = basePathRaw.replace(/\/+$/, '');

// Records every request the client actually sends (method + path + query) and the raw status it got,
// so the report shows exactly what a server must serve. Headers are never recorded.
let currentStep = null;
const wireLog = {
  pre(ctx) {
    if (currentStep) {
      const u = new URL(ctx.getUrl());
      currentStep.requests.push({ method: String(ctx.getHttpMethod()), path: u.pathname + u.search });
    }
    return ctx;
  },
  post(ctx) {
    if (currentStep && currentStep.requests.length) {
      currentStep.requests[currentStep.requests.length - 1].status = ctx.httpStatusCode;
    }
    return ctx;
  },
};

const clientOptions = { accessToken, basePath, numberOfApiCallRetries: 0, middleware: [wireLog] };
const hubspot = new Client(clientOptions);
// NB: the client keeps its retry/limiter decorators in a process-wide singleton that each `new Client`
// resets; both clients here use 0 retries and no limiter, so that is harmless.
const badClient = new Client({ ...clientOptions, accessToken: WRONG_TOKEN });

const iso = (d) => (d instanceof Date ? d.toISOString() : d ?? null);

/**
 * Runs one step. `call` must return an HttpInfo (the client's *WithHttpInfo methods), whose
 * httpStatusCode is the status of a success; a thrown ApiException carries the status in `code`.
 * `extract(data)` returns the step's key values; `check(values)` returns named booleans.
 */
async function step(name, expectedStatus, call, extract = () => ({}), check = () => ({})) {
  const rec = { name, expectedStatus, status: null, ok: false, requests: [] };
  report.steps.push(rec);
  currentStep = rec;
  try {
    const info = await call();
    rec.status = info.httpStatusCode;
    const values = extract(info.data);
    for (const k of Object.keys(values)) if (k in rec) throw new Error(`extract() must not set reserved key ${k}`);
    Object.assign(rec, values);
  } catch (err) {
    if (err && typeof err.code === 'number') {
      // ApiException(code, message, body, headers) from the generated client
      rec.status = err.code;
      rec.errorType = err.constructor?.name || 'ApiException';
      const body = err.body && typeof err.body === 'object' ? err.body : undefined;
      rec.error = body
        ? { status: body.status ?? null, category: body.category ?? null, message: scrub(body.message ?? null), correlationId: body.correlationId ?? null }
        : { raw: typeof err.body === 'string' ? scrub(err.body.slice(0, 500)) : null };
    } else {
      rec.errorType = err?.constructor?.name || typeof err;
      // not an HTTP status: connection failure, unparsable response (e.g. an error without a JSON Content-Type)...
      rec.error = { message: scrub(String(err?.message ?? err).slice(0, 500)), cause: scrub(err?.cause?.code ?? err?.cause?.message ?? null) };
    }
  } finally {
    currentStep = null;
  }
  rec.ok = rec.status === expectedStatus;
  const checks = rec.ok ? check(rec) : {};
  if (Object.keys(checks).length) rec.checks = checks;
  return rec;
}

function skip(name, expectedStatus, reason) {
  report.steps.push({ name, expectedStatus, status: null, ok: false, skipped: reason, requests: [] });
}

const contacts = hubspot.crm.contacts;
const companies = hubspot.crm.companies;
const email = `roundtrip-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;
const firstname = 'Ada';
const firstnameUpdated = 'Grace';
const contactProps = ['email', 'firstname'];

async function main() {
  // --- contacts: create
  const created = await step(
    'contacts.create', 201,
    () => contacts.basicApi.createWithHttpInfo({ properties: { email, firstname }, associations: [] }),
    (d) => ({ id: d.id, email: d.properties?.email ?? null, firstname: d.properties?.firstname ?? null, createdAt: iso(d.createdAt), archived: d.archived ?? null }),
    (r) => ({ hasId: typeof r.id === 'string' && r.id.length > 0, emailEchoed: r.email === email }),
  );
  const id = created.id;

  if (id) {
    await step(
      'contacts.getById', 200,
      () => contacts.basicApi.getByIdWithHttpInfo(id, contactProps),
      (d) => ({ id: d.id, email: d.properties?.email ?? null, firstname: d.properties?.firstname ?? null }),
      (r) => ({ sameId: r.id === id, emailMatches: r.email === email, firstnameMatches: r.firstname === firstname }),
    );
    await step(
      'contacts.update', 200,
      () => contacts.basicApi.updateWithHttpInfo(id, { properties: { firstname: firstnameUpdated } }),
      (d) => ({ id: d.id, firstname: d.properties?.firstname ?? null, updatedAt: iso(d.updatedAt) }),
      (r) => ({ sameId: r.id === id, firstnameUpdated: r.firstname === firstnameUpdated }),
    );
  } else {
    skip('contacts.getById', 200, 'create failed');
    skip('contacts.update', 200, 'create failed');
  }

  // --- contacts: list, following paging.next.after once
  const page1 = await step(
    'contacts.getPage', 200,
    () => contacts.basicApi.getPageWithHttpInfo(2, undefined, contactProps),
    (d) => ({ resultCount: d.results?.length ?? 0, ids: (d.results || []).map((o) => o.id), after: d.paging?.next?.after ?? null, nextLink: d.paging?.next?.link ?? null }),
    (r) => ({ atMostLimit: r.resultCount <= 2 }),
  );
  if (page1.ok && page1.after) {
    await step(
      'contacts.getPage.next', 200,
      () => contacts.basicApi.getPageWithHttpInfo(2, page1.after, contactProps),
      (d) => ({ resultCount: d.results?.length ?? 0, ids: (d.results || []).map((o) => o.id), after: d.paging?.next?.after ?? null }),
      (r) => ({ atMostLimit: r.resultCount <= 2, disjointFromPage1: r.ids.every((x) => !page1.ids.includes(x)) }),
    );
  }

  // --- contacts: batch read of the created id plus a missing one (HubSpot answers 207 Multi-Status)
  if (id) {
    await step(
      'contacts.batch.read', 207,
      () => contacts.batchApi.readWithHttpInfo({ inputs: [{ id }, { id: missingId }], properties: contactProps, propertiesWithHistory: [] }),
      (d) => ({
        batchStatus: d.status ?? null,
        resultCount: d.results?.length ?? 0,
        resultIds: (d.results || []).map((o) => o.id),
        numErrors: d.numErrors ?? null,
        errorsCount: d.errors?.length ?? 0,
        errorCategories: (d.errors || []).map((e) => e.category),
        missingIdReported: (d.errors || []).some((e) => JSON.stringify(e.context ?? {}).includes(missingId)),
      }),
      (r) => ({ foundCreated: r.resultIds.includes(id), oneResult: r.resultCount === 1, oneError: r.errorsCount === 1, missingIdReported: r.missingIdReported }),
    );
  } else {
    skip('contacts.batch.read', 207, 'create failed');
  }

  // --- contacts: search by email
  await step(
    'contacts.search', 200,
    () => contacts.searchApi.doSearchWithHttpInfo({
      filterGroups: [{ filters: [{ propertyName: 'email', operator: 'EQ', value: email }] }],
      properties: contactProps,
      limit: 10,
    }),
    (d) => ({ total: d.total ?? null, resultCount: d.results?.length ?? 0, ids: (d.results || []).map((o) => o.id), after: d.paging?.next?.after ?? null }),
    (r) => ({ totalIsOne: r.total === 1, foundCreated: !!id && r.ids.includes(id) }),
  );

  // --- contacts: archive, then getById must 404
  if (id) {
    await step('contacts.archive', 204, () => contacts.basicApi.archiveWithHttpInfo(id));
    await step(
      'contacts.getById.afterArchive', 404,
      () => contacts.basicApi.getByIdWithHttpInfo(id, contactProps),
      () => ({}),
      (r) => ({ categoryObjectNotFound: r.error?.category === 'OBJECT_NOT_FOUND' }),
    );
  } else {
    skip('contacts.archive', 204, 'create failed');
    skip('contacts.getById.afterArchive', 404, 'create failed');
  }

  // --- companies: create, getById, archive
  const companyName = `Roundtrip Co ${Date.now()}`;
  const companyDomain = `roundtrip-${Date.now()}.example.com`;
  const company = await step(
    'companies.create', 201,
    () => companies.basicApi.createWithHttpInfo({ properties: { name: companyName, domain: companyDomain }, associations: [] }),
    (d) => ({ id: d.id, companyName: d.properties?.name ?? null, domain: d.properties?.domain ?? null }),
    (r) => ({ hasId: typeof r.id === 'string' && r.id.length > 0, nameEchoed: r.companyName === companyName }),
  );
  if (company.id) {
    await step(
      'companies.getById', 200,
      () => companies.basicApi.getByIdWithHttpInfo(company.id, ['name', 'domain']),
      (d) => ({ id: d.id, companyName: d.properties?.name ?? null, domain: d.properties?.domain ?? null }),
      (r) => ({ sameId: r.id === company.id, nameMatches: r.companyName === companyName, domainMatches: r.domain === companyDomain }),
    );
    await step('companies.archive', 204, () => companies.basicApi.archiveWithHttpInfo(company.id));
  } else {
    skip('companies.getById', 200, 'companies.create failed');
    skip('companies.archive', 204, 'companies.create failed');
  }

  // --- wrong token must give 401 through ApiException.code
  await step(
    'auth.wrongToken', 401,
    () => badClient.crm.contacts.basicApi.getPageWithHttpInfo(1),
    () => ({}),
    // HubSpot's own 401 (INVALID_AUTHENTICATION), or a proxy in front of it refusing the caller (problem+json)
    (r) => ({ authenticationRefused: r.error?.category === 'INVALID_AUTHENTICATION' || r.error?.status === 401 }),
  );
}

main().then(
  () => { clearTimeout(watchdog); finish(0); },
  (err) => { clearTimeout(watchdog); report.error = scrub(String(err?.message ?? err)); finish(1, report.error); },
);
