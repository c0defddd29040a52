// vLLM refuses, at start, a --max-model-len above the length the model's config.json allows (its
// max_position_embeddings; vllm/config.py `_get_and_verify_max_len`, overridable only with
// VLLM_ALLOW_LONG_MAX_MODEL_LEN=1) and exits. The stub does the same, so a wrong `fudbuddy:model.maxModelLen`
// breaks a CPU test host at start exactly where it would break vLLM on a GPU host.

/** max_position_embeddings of the stack's default model (Qwen/Qwen2.5-7B-Instruct), which the stub stands in for. */
export const STUB_DERIVED_MAX_MODEL_LEN = 32768;

/** The start-up error for a requested max model length (0 = not set), or null. */
export function maxModelLenError(requested: number, derived = STUB_DERIVED_MAX_MODEL_LEN): string | null {
  if (requested === 0 || requested <= derived) return null;
  return `User-specified max_model_len (${requested}) is greater than the derived max_model_len (max_position_embeddings=${derived}) of the served model (STUB_MAX_MODEL_LEN)`;
}
