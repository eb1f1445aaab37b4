;; Adler-32 (zlib's stream checksum, RFC 1950) with 128-bit SIMD: the checksum every level-0
;; tile's IDAT carries over its ~4 MiB of scanlines. In JavaScript (tile-bytes.ts, the reference
;; and the fallback) it runs at ~0.28 ms per MiB; here a few times faster. Compiled by
;; scripts/wasm/build-wasm.ts into adler32-wasm.ts; do not edit that file by hand.
;;
;; Over a block of 32 bytes b_0..b_31 with sums (a, s) before it:
;;   a' = a + sum b_i        s' = s + 32 a + sum (32 - i) b_i
;; The vector loop keeps, per u32 lane, the byte sums (va), the byte sums as they stood before
;; each block (vp: its total times 32 is the blocks' share of 32 a), and the weighted sums (vw).
;; Every CHUNK bytes the lanes are folded into a and s in i64 and reduced mod 65521; CHUNK keeps
;; each lane far below 2^32 (va <= 255 * 8 * 173, vp <= 173 * that, vw <= 173 * 255 * 136).
;;
;; Memory: the caller (tile-bytes.ts, adler32Simd) grows it to a 256 KiB piece and copies the
;; bytes to checksum to offset 0, a piece at a time.
(module
  (memory (export "memory") 1)

  ;; adler32(state, len): the Adler-32 of memory[0, len) continued from state (1 for a new stream)
  (func (export "adler32") (param $state i32) (param $len i32) (result i32)
    (local $a i64) (local $s i64) (local $p i32) (local $end i32) (local $stop i32) (local $n i32)
    (local $va v128) (local $vp v128) (local $vw v128) (local $x v128) (local $y v128)
    (local $w1 v128) (local $w2 v128) (local $w3 v128) (local $w4 v128)
    (local.set $a (i64.extend_i32_u (i32.and (local.get $state) (i32.const 0xffff))))
    (local.set $s (i64.extend_i32_u (i32.shr_u (local.get $state) (i32.const 16))))
    ;; weights 32..1 for bytes 0..31, as i16 lanes
    (local.set $w1 (v128.const i16x8 32 31 30 29 28 27 26 25))
    (local.set $w2 (v128.const i16x8 24 23 22 21 20 19 18 17))
    (local.set $w3 (v128.const i16x8 16 15 14 13 12 11 10 9))
    (local.set $w4 (v128.const i16x8 8 7 6 5 4 3 2 1))
    (local.set $end (i32.and (local.get $len) (i32.const -32)))
    (block $done
      (loop $chunks
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        ;; CHUNK = 173 blocks of 32 bytes (5536, zlib's NMAX rounded down to whole blocks)
        (local.set $stop (i32.add (local.get $p) (i32.const 5536)))
        (if (i32.gt_u (local.get $stop) (local.get $end)) (then (local.set $stop (local.get $end))))
        (local.set $n (i32.sub (local.get $stop) (local.get $p)))
        (local.set $va (v128.const i32x4 0 0 0 0))
        (local.set $vp (v128.const i32x4 0 0 0 0))
        (local.set $vw (v128.const i32x4 0 0 0 0))
        (loop $blocks
          (local.set $x (v128.load (local.get $p)))
          (local.set $y (v128.load offset=16 (local.get $p)))
          (local.set $vp (i32x4.add (local.get $vp) (local.get $va)))
          (local.set $va (i32x4.add (local.get $va) (i32x4.extadd_pairwise_i16x8_u
            (i16x8.add (i16x8.extadd_pairwise_i8x16_u (local.get $x)) (i16x8.extadd_pairwise_i8x16_u (local.get $y))))))
          (local.set $vw (i32x4.add (local.get $vw) (i32x4.add
            (i32x4.add
              (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $x)) (local.get $w1))
              (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $x)) (local.get $w2)))
            (i32x4.add
              (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $y)) (local.get $w3))
              (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $y)) (local.get $w4))))))
          (local.set $p (i32.add (local.get $p) (i32.const 32)))
          (br_if $blocks (i32.lt_u (local.get $p) (local.get $stop))))
        ;; s += n a + 32 sum(vp) + sum(vw); a += sum(va); then both mod 65521
        (local.set $s (i64.add (local.get $s) (i64.add
          (i64.mul (i64.extend_i32_u (local.get $n)) (local.get $a))
          (i64.add
            (i64.shl (i64.add
              (i64.add (i64.extend_i32_u (i32x4.extract_lane 0 (local.get $vp))) (i64.extend_i32_u (i32x4.extract_lane 1 (local.get $vp))))
              (i64.add (i64.extend_i32_u (i32x4.extract_lane 2 (local.get $vp))) (i64.extend_i32_u (i32x4.extract_lane 3 (local.get $vp)))))
              (i64.const 5))
            (i64.add
              (i64.add (i64.extend_i32_u (i32x4.extract_lane 0 (local.get $vw))) (i64.extend_i32_u (i32x4.extract_lane 1 (local.get $vw))))
              (i64.add (i64.extend_i32_u (i32x4.extract_lane 2 (local.get $vw))) (i64.extend_i32_u (i32x4.extract_lane 3 (local.get $vw)))))))))
        (local.set $a (i64.add (local.get $a) (i64.add
          (i64.add (i64.extend_i32_u (i32x4.extract_lane 0 (local.get $va))) (i64.extend_i32_u (i32x4.extract_lane 1 (local.get $va))))
          (i64.add (i64.extend_i32_u (i32x4.extract_lane 2 (local.get $va))) (i64.extend_i32_u (i32x4.extract_lane 3 (local.get $va)))))))
        (local.set $a (i64.rem_u (local.get $a) (i64.const 65521)))
        (local.set $s (i64.rem_u (local.get $s) (i64.const 65521)))
        (br $chunks)))
    ;; the last len mod 32 bytes, one at a time (a and s stay far below 2^63)
    (block $tail
      (loop $bytes
        (br_if $tail (i32.ge_u (local.get $p) (local.get $len)))
        (local.set $a (i64.add (local.get $a) (i64.load8_u (local.get $p))))
        (local.set $s (i64.add (local.get $s) (local.get $a)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $bytes)))
    (local.set $a (i64.rem_u (local.get $a) (i64.const 65521)))
    (local.set $s (i64.rem_u (local.get $s) (i64.const 65521)))
    (i32.wrap_i64 (i64.or (i64.shl (local.get $s) (i64.const 16)) (local.get $a)))))
