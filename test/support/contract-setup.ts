import { afterAll, expect } from 'vitest';
import { contractReport } from './openapi-contract.ts';

// Every test file of the integration project: the responses its in-process sidecars sent must match the
// OpenAPI document (src/http/openapi.json).
afterAll(() => {
  expect(contractReport().violations, 'responses that disagree with src/http/openapi.json').toEqual([]);
});
