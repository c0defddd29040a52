// OpenAI's published schemas (shared/spec) as an ajv validator. OpenAPI 3.0's `nullable: true` is not JSON Schema,
// so it is rewritten to `type: [T, "null"]` (and `null` added to any enum) before compiling.
import { Ajv, type ValidateFunction } from 'ajv';
import { readFileSync } from 'node:fs';

// A copy of the lead's shared/spec file, kept in the repo so the suite runs on a fresh clone.
const SPEC = new URL('./openai-chat-completions.schema.json', import.meta.url);

type Node = Record<string, unknown>;

export function translateNullable(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(translateNullable);
  if (!node || typeof node !== 'object') return node;
  const out: Node = {};
  for (const [k, v] of Object.entries(node as Node)) out[k] = translateNullable(v);
  if (out.nullable === true) {
    delete out.nullable;
    if (typeof out.type === 'string') out.type = [out.type, 'null'];
    if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
    if (out.type === undefined && out.$ref === undefined) return out;
    if (out.$ref !== undefined) return { anyOf: [{ $ref: out.$ref }, { type: 'null' }] };
  } else if (out.nullable === false) delete out.nullable;
  return out;
}

function loadSpec(): Node {
  const text = readFileSync(SPEC, 'utf8');
  return translateNullable(JSON.parse(text)) as Node;
}

const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
const spec = loadSpec();
const id = String(spec.$id);
ajv.addSchema(spec);

export function validator(name: string): ValidateFunction {
  const v = ajv.getSchema(`${id}#/components/schemas/${name}`);
  if (!v) throw new Error(`schema ${name} not found in the OpenAI spec`);
  return v;
}

/** Throws with ajv's messages when `value` does not match schema `name`. */
export function assertSchema(name: string, value: unknown): void {
  const v = validator(name);
  if (!v(value)) throw new Error(`${name} schema violation: ${ajv.errorsText(v.errors)}\n${JSON.stringify(value).slice(0, 800)}`);
}
