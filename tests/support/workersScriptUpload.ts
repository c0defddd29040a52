// What the Cloudflare provider sends for a cloudflare.WorkersScript (bridged from terraform-provider-cloudflare
// v5's workers_script, which PUTs the whole script on create and on every update: WorkersScriptModel
// MarshalMultipart): the `metadata` part is the resource's configuration in the API's snake_case names, the
// content is a module part named after main_module. `force` is not metadata: it is the delete's query parameter.
import { unwrap } from './pulumiMocks.js';

const NOT_METADATA = new Set(['accountId', 'scriptName', 'content', 'contentFile', 'contentSha256', 'force', 'urn', 'id']);

const snake = (k: string): string => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function toApi(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(toApi);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined && x !== null).map(([k, x]) => [snake(k), toApi(x)]));
  }
  return v;
}

/** The multipart body for a PUT of the script, from the inputs the program registered. */
export function workersScriptUpload(registered: Record<string, unknown>): FormData {
  const inputs = unwrap(registered) as Record<string, unknown>;
  const metadata = toApi(Object.fromEntries(Object.entries(inputs).filter(([k]) => !NOT_METADATA.has(k)))) as Record<string, unknown>;
  const form = new FormData();
  form.set('metadata', new Blob([JSON.stringify(metadata)], { type: 'application/json' }), 'metadata.json');
  const main = String(inputs.mainModule);
  form.set(main, new Blob([String(inputs.content)], { type: 'application/javascript+module' }), main);
  return form;
}

/** Sends one API call as the provider would and returns Cloudflare's JSON envelope. */
export async function cloudflareCall(
  apiUrl: string,
  token: string,
  method: 'PUT' | 'DELETE' | 'GET',
  path: string,
  body?: FormData,
): Promise<{ success: boolean; errors: Array<{ code: number; message: string }>; result: unknown }> {
  const res = await fetch(`${apiUrl}${path}`, { method, headers: { authorization: `Bearer ${token}` }, body });
  return (await res.json()) as { success: boolean; errors: Array<{ code: number; message: string }>; result: unknown };
}
