import { Ajv2020, type KeywordDefinition } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { lazyAjvClass } from '../../scripts/lazy-ajv.ts';

// The options and a custom keyword as @platformatic/kafka's utils.js makes them; the schema uses both kinds of keyword.
const OPTIONS = { allErrors: true, coerceTypes: false, strict: true };
const BIGINT: KeywordDefinition = { keyword: 'bigint', validate: (_: unknown, x: unknown) => typeof x === 'bigint', error: { message: 'must be bigint' } };
const SCHEMA = {
  type: 'object',
  properties: { clientId: { type: 'string', minLength: 1 }, retries: { type: 'integer', minimum: 0 }, offset: { bigint: true } },
  required: ['clientId'],
  additionalProperties: false,
};
const SAMPLES: unknown[] = [{ clientId: 'a', retries: 3, offset: 1n }, { clientId: '', retries: -1, offset: 1, other: true }, {}, 'not an object'];

function counted() {
  let loads = 0;
  const Lazy = lazyAjvClass(() => {
    loads++;
    return Ajv2020;
  });
  return { Lazy, loads: () => loads };
}

describe('lazy-ajv (what the bundle gives @platformatic/kafka for Ajv2020)', () => {
  it('makes no Ajv and compiles nothing until a validator is called', () => {
    const { Lazy, loads } = counted();
    const ajv = new Lazy(OPTIONS).addKeyword(BIGINT);
    const validate = ajv.compile(SCHEMA);
    ajv.compile({ type: 'string' });
    expect(loads()).toBe(0);
    validate({ clientId: 'a' });
    expect(loads()).toBe(1);
  });

  it('answers as the compiled validator: result, errors and their text', () => {
    const eager = new Ajv2020(OPTIONS);
    eager.addKeyword(BIGINT);
    const compiled = eager.compile(SCHEMA);
    const lazy = new (counted().Lazy)(OPTIONS).addKeyword(BIGINT);
    const validate = lazy.compile(SCHEMA);
    for (const sample of SAMPLES) {
      expect(validate(sample)).toBe(compiled(sample));
      expect(validate.errors).toEqual(compiled.errors);
      expect(lazy.errorsText(validate.errors, { dataVar: '$dataVar$' })).toBe(eager.errorsText(compiled.errors, { dataVar: '$dataVar$' }));
    }
    expect(validate.errors).not.toBeNull();
  });

  it('adds a keyword given after the Ajv was made', () => {
    const ajv = new (counted().Lazy)(OPTIONS);
    expect(ajv.compile({ type: 'string' })('x')).toBe(true);
    ajv.addKeyword(BIGINT);
    expect(ajv.compile({ bigint: true })(1)).toBe(false);
  });

  it('throws for a schema ajv refuses on the first call, and again on the next', () => {
    const validate = new (counted().Lazy)(OPTIONS).compile({ type: 'string', notAKeyword: 1 });
    expect(() => validate('x')).toThrow(/unknown keyword: "notAKeyword"/);
    expect(() => validate('x')).toThrow(/unknown keyword: "notAKeyword"/);
  });
});
