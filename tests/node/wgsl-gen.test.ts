import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generatedQ80SharedX, Q8_0_SHARED_X_FILE } from '../../scripts/wgsl-gen/q8-0-shared-x';

// Shaders written by a generator are what their generator writes today (a hand edit or a stale
// file fails here), and the generated realignments are the ones the Q8_0 layout implies.

describe('generated WGSL', () => {
  it('shaders/_matvec_q8_0_sh.wgsl is what scripts/wgsl-gen/q8-0-shared-x.ts writes', () => {
    expect(readFileSync(Q8_0_SHARED_X_FILE, 'utf8')).toBe(generatedQ80SharedX());
  });

  it("places each of a group's 8 blocks at byte 34j: even blocks realigned by 2 bytes, odd blocks whole words", () => {
    const text = generatedQ80SharedX();
    // Block 0: scale in word 0's low half, first quant word from words 0 and 1.
    expect(text).toContain('unpack2x16float(g0.x & 0xffffu)');
    expect(text).toContain('idot(((g0.x >> 16u) | (g0.y << 16u)), xa.x)');
    // Block 1 starts at byte 34 = word 8 + 2 bytes: scale the high half of word 8, quants words 9..16.
    expect(text).toContain('unpack2x16float(g2.x >> 16u)');
    expect(text).toContain('idot(g2.y, xa.x)');
    expect(text).toContain('idot(g4.x, xb.w)');
    // Block 7 starts at byte 238 = word 59 + 2 bytes; its last quant word is word 67, the group's last.
    expect(text).toContain('unpack2x16float(g14.w >> 16u)');
    expect(text).toContain('idot(g16.w, xb.w)');
    // Each block takes its x from lanes 2j, 2j + 1 of the half that holds it.
    expect(text).toContain('subgroupBroadcast(xl.qb, 6u)');
    expect(text).toContain('subgroupBroadcast(xl.qb, 7u)');
  });
});
