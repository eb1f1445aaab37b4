import { describe, expect, it } from 'vitest';
import type { TrainModelConfig } from '../../shared/train/config';
import { stepFlops } from '../../shared/train/estimate';

// stepFlops against a count by hand (the byte estimates are checked against real allocations in
// tests/gpu/train-estimate.test.ts).

// Width 4, 2 heads of 2 (1 KV head), FFN 6, vocabulary 10, one layer.
const TINY: TrainModelConfig = { arch: 'llama', vocab: 10, dim: 4, layers: 1, heads: 2, kvHeads: 1, ff: 6, context: 8, ropeTheta: 10000, rmsEps: 1e-5, tied: true, qkvBias: false };

describe('stepFlops', () => {
  // Multiply-adds per token: q 4·4, k 4·2, v 4·2, output 4·4, gate 4·6, up 4·6, down 6·4,
  // logits 4·10 = 16 + 8 + 8 + 16 + 24 + 24 + 24 + 40 = 160.
  // One sequence of 3 tokens: 2·3·160 = 960 for the products with weights; attention's QKᵀ and
  // P·V: 2 products · 2 flops · 2 heads · 3·3 · head size 2 = 144. Forward 1,104.
  const forward = 2 * 3 * 160 + 2 * 2 * 2 * 9 * 2;

  it('a full step is three forward passes', () => {
    expect(forward).toBe(1104);
    expect(stepFlops(TINY, 1, 3, 'full')).toBe(3 * 1104);
  });

  it('a LoRA step is two forward passes and the adapters’ products', () => {
    // attn_q [4, 4] and ffn_down [4, 6] at rank 1: 6·N·r·(in + out) = 6·3·(4 + 4) + 6·3·(6 + 4) = 144 + 180.
    const lora = { rank: 1, alpha: 1, targets: ['attn_q', 'ffn_down'] as const };
    expect(stepFlops(TINY, 1, 3, { lora: { ...lora, targets: [...lora.targets] } })).toBe(2 * 1104 + 144 + 180);
  });

  it('scales with the batch; attention with the square of the sequence', () => {
    expect(stepFlops(TINY, 4, 3, 'full')).toBe(4 * stepFlops(TINY, 1, 3, 'full'));
    // Doubling the sequence: products with weights ×2, attention ×4.
    expect(stepFlops(TINY, 1, 6, 'full')).toBe(3 * (2 * 960 + 4 * 144));
  });
});
