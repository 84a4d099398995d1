import type { Ajv2020, AnySchema, ErrorObject, ErrorsTextOptions, KeywordDefinition, Options } from 'ajv/dist/2020.js';

/**
 * What the server bundle gives @platformatic/kafka's utils.js for `Ajv2020` (scripts/build-server.mjs, "lazy-ajv"):
 * an Ajv that is made, and compiles a schema, only when a validator is first called.
 *
 * The library makes one Ajv and compiles 38 option validators when its modules are imported, but it calls a
 * validator only when a client was made with its `strict` option, which the sidecar never sets: ajv's code
 * generation ran at every start for validators that were never called. With this, a validator of a `strict`
 * client compiles on its first call and then behaves as the compiled one. Only the members the library uses
 * exist (`addKeyword`, `compile`, `errorsText`); the build fails when the library calls any other.
 */
export const LAZY_AJV_MEMBERS = ['addKeyword', 'compile', 'errorsText'] as const;

/** A validator that compiles its schema on its first call; `errors` mirrors the compiled one's after each call. */
export interface LazyValidateFunction {
  (data: unknown): boolean | Promise<unknown>;
  errors?: ErrorObject[] | null | undefined;
}

export interface LazyAjv {
  addKeyword(definition: KeywordDefinition): LazyAjv;
  compile(schema: AnySchema): LazyValidateFunction;
  errorsText(errors?: ErrorObject[] | null, options?: ErrorsTextOptions): string;
}

/**
 * The class standing in for `Ajv2020`; `load` gives the real one, called once, when the first validator is
 * called (or errors are formatted). A schema or keyword ajv refuses throws then, not at import.
 */
export function lazyAjvClass(load: () => typeof Ajv2020): new (options?: Options) => LazyAjv {
  return class LazyAjv2020 implements LazyAjv {
    readonly #options: Options | undefined;
    readonly #keywords: KeywordDefinition[] = [];
    #ajv: Ajv2020 | undefined;

    constructor(options?: Options) {
      this.#options = options;
    }

    addKeyword(definition: KeywordDefinition): this {
      if (this.#ajv) this.#ajv.addKeyword(definition);
      else this.#keywords.push(definition);
      return this;
    }

    compile(schema: AnySchema): LazyValidateFunction {
      const ajv = (): Ajv2020 => this.#real();
      let compiled: ((data: unknown) => boolean | Promise<unknown>) & { errors?: ErrorObject[] | null | undefined };
      const validate: LazyValidateFunction = (data) => {
        compiled ??= ajv().compile(schema);
        const valid = compiled(data);
        validate.errors = compiled.errors;
        return valid;
      };
      return validate;
    }

    errorsText(errors?: ErrorObject[] | null, options?: ErrorsTextOptions): string {
      return this.#real().errorsText(errors, options);
    }

    #real(): Ajv2020 {
      if (this.#ajv) return this.#ajv;
      const Real = load();
      const ajv = new Real(this.#options);
      for (const definition of this.#keywords) ajv.addKeyword(definition);
      this.#keywords.length = 0;
      this.#ajv = ajv;
      return ajv;
    }
  };
}
