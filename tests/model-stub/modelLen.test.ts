// The stub refuses a max model length above its model's limit at start, as vLLM does (services/model-stub/src/modelLen.ts).
import { describe, expect, it } from 'vitest';
import { maxModelLenError, STUB_DERIVED_MAX_MODEL_LEN } from '../../services/model-stub/src/modelLen.js';

describe('model stub: max model length', () => {
  it('unset, equal or below the limit starts; above it is refused with the numbers and the variable named', () => {
    expect(maxModelLenError(0)).toBeNull();
    expect(maxModelLenError(8192)).toBeNull();
    expect(maxModelLenError(STUB_DERIVED_MAX_MODEL_LEN)).toBeNull();
    const e = maxModelLenError(65536);
    expect(e).toContain('User-specified max_model_len (65536) is greater than the derived max_model_len');
    expect(e).toContain(`max_position_embeddings=${STUB_DERIVED_MAX_MODEL_LEN}`);
    expect(e).toContain('STUB_MAX_MODEL_LEN');
  });
});
