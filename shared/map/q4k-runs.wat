;; The Q4_K code statistics of TensorPyramid.pushBlocks (shared/map/pyramid-core.ts, file comment
;; "Code statistics"), run by run, in WebAssembly with 128-bit SIMD: the import's hottest loop
;; (~3.9 CPU-s per GB in JavaScript, where the pieces and the run geometry cost more than the
;; codes themselves). Every float operation is the one TensorPyramid.blocksQ4K does, in the same
;; order and the same precision, so the figures are bit for bit those of the JavaScript route.
;; Compiled by scripts/build-wasm.ts into q4k-runs-wasm.ts; do not edit that file by hand.
;;
;; Memory (the caller's layout, filled by q4k-runs-wasm.ts):
;;   0..87   the open run and the geometry, f64 each: 0 segEnd (-1: none open), 8 sum, 16 sum of
;;           squares, 24 count, 32 min, 40 max, 48 non-finite count, 56 tile width, 64 tile
;;           height, 72 heat size, 80 bytes per tile
;;   128..479 the current block's sub-blocks k = 0..7 (filled by $prep): 128 + 8k sum, 192 + 8k
;;           sum of squares, 256 + 8k min, 320 + 8k max of the whole sub-block (f64), 384 + 4k
;;           finite (i32, all ones or 0), 416 + 4k a, 448 + 4k b (f32)
;;   512..8703 per heat column hx (heat size <= 1024): 512 + 4hx the pixel where its span ends,
;;           4608 + 4hx the heat column of that pixel (i32; filled at each call)
;;   src..   the blocks (144 bytes each, src 16-aligned, at least 8704)
;;   rec..   one record per run touched, 9 f64 each: sum, sum of squares, min, max, count,
;;           non-finite count, tile, heat pixel, flags (1: the run closed, 2: it opened here)
(module
  (memory (export "memory") 1)

  ;; An f16 bit pattern as the f32 of the same value (exact; NaN stays NaN).
  (func $f16 (param $h i32) (result f32)
    (local $s i32) (local $e i32) (local $m i32)
    (local.set $s (i32.shl (i32.and (local.get $h) (i32.const 0x8000)) (i32.const 16)))
    (local.set $e (i32.and (i32.shr_u (local.get $h) (i32.const 10)) (i32.const 31)))
    (local.set $m (i32.and (local.get $h) (i32.const 1023)))
    (if (i32.eqz (local.get $e))
      (then
        ;; zero or subnormal: m · 2^-24, exact in f32, then the sign bit
        (return (f32.reinterpret_i32 (i32.or (local.get $s)
          (i32.reinterpret_f32 (f32.mul (f32.convert_i32_u (local.get $m)) (f32.const 0x1p-24))))))))
    (if (i32.eq (local.get $e) (i32.const 31))
      (then (return (f32.reinterpret_i32 (i32.or (i32.or (local.get $s) (i32.const 0x7f800000)) (i32.shl (local.get $m) (i32.const 13)))))))
    (f32.reinterpret_i32 (i32.or (i32.or (local.get $s) (i32.shl (i32.add (local.get $e) (i32.const 112)) (i32.const 23))) (i32.shl (local.get $m) (i32.const 13)))))

  ;; The codes of one piece: x and y hold a sub-block's 32 codes (0..15), m0 and m1 the lanes in
  ;; the piece. Returns S1 | S2 << 9 | min << 22 | max << 26 (S1 <= 480, S2 <= 7200).
  (func $codes (param $x v128) (param $y v128) (param $m0 v128) (param $m1 v128) (result i32)
    (local $a v128) (local $b v128) (local $s v128) (local $q v128) (local $mn v128) (local $mx v128) (local $t v128)
    (local.set $a (v128.and (local.get $x) (local.get $m0)))
    (local.set $b (v128.and (local.get $y) (local.get $m1)))
    ;; S1 per u32 lane (<= 120 each)
    (local.set $s (i32x4.extadd_pairwise_i16x8_u (i16x8.add
      (i16x8.extadd_pairwise_i8x16_u (local.get $a)) (i16x8.extadd_pairwise_i8x16_u (local.get $b)))))
    ;; S2 per u32 lane: squares of u16-widened codes, summed in pairs
    (local.set $q (i32x4.add
      (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $a)) (i16x8.extend_low_i8x16_u (local.get $a)))
      (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $a)) (i16x8.extend_high_i8x16_u (local.get $a)))))
    (local.set $q (i32x4.add (local.get $q) (i32x4.add
      (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $b)) (i16x8.extend_low_i8x16_u (local.get $b)))
      (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $b)) (i16x8.extend_high_i8x16_u (local.get $b))))))
    ;; S1 + S2 << 9 in each lane, then across the lanes
    (local.set $s (i32x4.add (local.get $s) (i32x4.shl (local.get $q) (i32.const 9))))
    (local.set $s (i32x4.add (local.get $s) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $s) (local.get $s))))
    (local.set $s (i32x4.add (local.get $s) (i8x16.shuffle 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 (local.get $s) (local.get $s))))
    ;; the smallest code (lanes outside the piece count as 15) and 15 - the largest (outside: 0)
    (local.set $mn (i8x16.min_u
      (v128.bitselect (local.get $x) (i8x16.splat (i32.const 15)) (local.get $m0))
      (v128.bitselect (local.get $y) (i8x16.splat (i32.const 15)) (local.get $m1))))
    (local.set $mx (v128.xor (i8x16.max_u (local.get $a) (local.get $b)) (i8x16.splat (i32.const 15))))
    ;; both minima at once: halves side by side, then three folds
    (local.set $t (i8x16.min_u
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $mn) (local.get $mx))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $mn) (local.get $mx))))
    (local.set $t (i8x16.min_u (local.get $t) (i8x16.shuffle 4 5 6 7 0 1 2 3 12 13 14 15 8 9 10 11 (local.get $t) (local.get $t))))
    (local.set $t (i8x16.min_u (local.get $t) (i8x16.shuffle 2 3 0 1 6 7 4 5 10 11 8 9 14 15 12 13 (local.get $t) (local.get $t))))
    (local.set $t (i8x16.min_u (local.get $t) (i8x16.shuffle 1 0 3 2 5 4 7 6 9 8 11 10 13 12 15 14 (local.get $t) (local.get $t))))
    (i32.or (i32x4.extract_lane 0 (local.get $s))
      (i32.or (i32.shl (i8x16.extract_lane_u 0 (local.get $t)) (i32.const 22))
              (i32.shl (i32.xor (i8x16.extract_lane_u 8 (local.get $t)) (i32.const 15)) (i32.const 26)))))

  ;; The whole-piece figures of sub-blocks 2p and 2p + 1, in f64 lane by lane exactly as the
  ;; scalar route computes them: r holds S1 | S2 << 9, ql and qh the smallest and largest code
  ;; (i32 lanes 0, 1), a4 and b4 a and b (f32 lanes 0, 1).
  (func $floats (param $p i32) (param $r v128) (param $ql v128) (param $qh v128) (param $a4 v128) (param $b4 v128)
    (local $a v128) (local $b v128) (local $s1 v128) (local $s2 v128) (local $x0 v128) (local $x1 v128) (local $lt v128) (local $at i32)
    (local.set $at (i32.add (i32.const 128) (i32.shl (local.get $p) (i32.const 4))))
    (local.set $a (f64x2.promote_low_f32x4 (local.get $a4)))
    (local.set $b (f64x2.promote_low_f32x4 (local.get $b4)))
    (local.set $s1 (f64x2.convert_low_i32x4_u (v128.and (local.get $r) (i32x4.splat (i32.const 511)))))
    (local.set $s2 (f64x2.convert_low_i32x4_u (i32x4.shr_u (local.get $r) (i32.const 9))))
    ;; sum a·S1 − b·32; sum of squares (a·a)·S2 − ((2·a)·b)·S1 + (b·b)·32
    (v128.store (local.get $at) (f64x2.sub (f64x2.mul (local.get $a) (local.get $s1)) (f64x2.mul (local.get $b) (f64x2.splat (f64.const 32)))))
    (v128.store offset=64 (local.get $at) (f64x2.add
      (f64x2.sub (f64x2.mul (f64x2.mul (local.get $a) (local.get $a)) (local.get $s2))
                 (f64x2.mul (f64x2.mul (f64x2.mul (f64x2.splat (f64.const 2)) (local.get $a)) (local.get $b)) (local.get $s1)))
      (f64x2.mul (f64x2.mul (local.get $b) (local.get $b)) (f64x2.splat (f64.const 32)))))
    ;; extrema: fround(a·q − b) of the smallest and the largest code, the smaller first
    (local.set $x0 (f64x2.promote_low_f32x4 (f32x4.demote_f64x2_zero
      (f64x2.sub (f64x2.mul (local.get $a) (f64x2.convert_low_i32x4_u (local.get $ql))) (local.get $b)))))
    (local.set $x1 (f64x2.promote_low_f32x4 (f32x4.demote_f64x2_zero
      (f64x2.sub (f64x2.mul (local.get $a) (f64x2.convert_low_i32x4_u (local.get $qh))) (local.get $b)))))
    (local.set $lt (f64x2.lt (local.get $x0) (local.get $x1)))
    (v128.store offset=128 (local.get $at) (v128.bitselect (local.get $x0) (local.get $x1) (local.get $lt)))
    (v128.store offset=192 (local.get $at) (v128.bitselect (local.get $x1) (local.get $x0) (local.get $lt))))

  ;; One block's eight sub-blocks at once (the scratch area above): scales, codes, figures.
  (func $prep (param $o i32)
    (local $S v128) (local $sc v128) (local $m v128) (local $lanes v128) (local $d v128) (local $dm v128)
    (local $a0 v128) (local $a1 v128) (local $b0 v128) (local $b1 v128)
    (local $x0 v128) (local $x1 v128) (local $l0 v128) (local $l1 v128) (local $h0 v128) (local $h1 v128)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128) (local $v4 v128) (local $v5 v128) (local $v6 v128) (local $v7 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128) (local $t4 v128) (local $t5 v128) (local $t6 v128) (local $t7 v128)
    (local $u v128) (local $w v128) (local $r0 v128) (local $r1 v128) (local $z v128) (local $ql v128) (local $qh v128)
    (local $ql0 v128) (local $ql1 v128) (local $qh0 v128) (local $qh1 v128)
    ;; ggml's get_scale_min_k4 for k = 0..7 in bytes 0..7: k < 4 from s[k] and s[k + 4] (6 bits);
    ;; k >= 4 from s[k + 4]'s nibbles and the top two bits of s[k − 4] and s[k]
    (local.set $S (v128.load offset=4 (local.get $o)))
    (local.set $lanes (v128.const i8x16 -1 -1 -1 -1 0 0 0 0 0 0 0 0 0 0 0 0))
    (local.set $sc (v128.bitselect
      (v128.and (local.get $S) (i8x16.splat (i32.const 63)))
      (v128.or
        (v128.and (i8x16.swizzle (local.get $S) (v128.const i8x16 0 0 0 0 8 9 10 11 0 0 0 0 0 0 0 0)) (i8x16.splat (i32.const 15)))
        (i8x16.shl (i8x16.shr_u (i8x16.swizzle (local.get $S) (v128.const i8x16 0 0 0 0 0 1 2 3 0 0 0 0 0 0 0 0)) (i32.const 6)) (i32.const 4)))
      (local.get $lanes)))
    (local.set $m (v128.bitselect
      (v128.and (i8x16.swizzle (local.get $S) (v128.const i8x16 4 5 6 7 0 0 0 0 0 0 0 0 0 0 0 0)) (i8x16.splat (i32.const 63)))
      (v128.or
        (i8x16.shr_u (i8x16.swizzle (local.get $S) (v128.const i8x16 0 0 0 0 8 9 10 11 0 0 0 0 0 0 0 0)) (i32.const 4))
        (i8x16.shl (i8x16.shr_u (i8x16.swizzle (local.get $S) (v128.const i8x16 0 0 0 0 4 5 6 7 0 0 0 0 0 0 0 0)) (i32.const 6)) (i32.const 4)))
      (local.get $lanes)))
    ;; a = fround(d·sc), b = fround(dmin·m): f32 products of exact operands
    (local.set $d (f32x4.splat (call $f16 (i32.load16_u (local.get $o)))))
    (local.set $dm (f32x4.splat (call $f16 (i32.load16_u offset=2 (local.get $o)))))
    (local.set $sc (i16x8.extend_low_i8x16_u (local.get $sc)))
    (local.set $m (i16x8.extend_low_i8x16_u (local.get $m)))
    (local.set $a0 (f32x4.mul (local.get $d) (f32x4.convert_i32x4_u (i32x4.extend_low_i16x8_u (local.get $sc)))))
    (local.set $a1 (f32x4.mul (local.get $d) (f32x4.convert_i32x4_u (i32x4.extend_high_i16x8_u (local.get $sc)))))
    (local.set $b0 (f32x4.mul (local.get $dm) (f32x4.convert_i32x4_u (i32x4.extend_low_i16x8_u (local.get $m)))))
    (local.set $b1 (f32x4.mul (local.get $dm) (f32x4.convert_i32x4_u (i32x4.extend_high_i16x8_u (local.get $m)))))
    (v128.store (i32.const 416) (local.get $a0))
    (v128.store (i32.const 432) (local.get $a1))
    (v128.store (i32.const 448) (local.get $b0))
    (v128.store (i32.const 464) (local.get $b1))
    ;; finite: a − a and b − b are 0 (NaN for ±Infinity and NaN)
    (v128.store (i32.const 384) (v128.and
      (f32x4.eq (f32x4.sub (local.get $a0) (local.get $a0)) (f32x4.splat (f32.const 0)))
      (f32x4.eq (f32x4.sub (local.get $b0) (local.get $b0)) (f32x4.splat (f32.const 0)))))
    (v128.store (i32.const 400) (v128.and
      (f32x4.eq (f32x4.sub (local.get $a1) (local.get $a1)) (f32x4.splat (f32.const 0)))
      (f32x4.eq (f32x4.sub (local.get $b1) (local.get $b1)) (f32x4.splat (f32.const 0)))))
    ;; codes: sub-block 2j the low nibbles of qs[32j ..], 2j + 1 the high ones. Per sub-block, v_k
    ;; holds S1 + (S2 << 9) in four u32 lanes (S1 <= 480 never carries into S2) and t_k its
    ;; smallest code and 15 - its largest folded once (bytes 0..7 and 8..15); written out here
    ;; rather than called, which V8 does not inline
    (local.set $x0 (v128.load offset=16 (local.get $o)))
    (local.set $x1 (v128.load offset=32 (local.get $o)))
    (local.set $l0 (v128.and (local.get $x0) (i8x16.splat (i32.const 15))))
    (local.set $l1 (v128.and (local.get $x1) (i8x16.splat (i32.const 15))))
    (local.set $h0 (i8x16.shr_u (local.get $x0) (i32.const 4)))
    (local.set $h1 (i8x16.shr_u (local.get $x1) (i32.const 4)))
    (local.set $v0 (i32x4.add
      (i32x4.extadd_pairwise_i16x8_u (i16x8.add (i16x8.extadd_pairwise_i8x16_u (local.get $l0)) (i16x8.extadd_pairwise_i8x16_u (local.get $l1))))
      (i32x4.shl (i32x4.add
        (i32x4.add
          (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $l0)) (i16x8.extend_low_i8x16_u (local.get $l0)))
          (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $l0)) (i16x8.extend_high_i8x16_u (local.get $l0))))
        (i32x4.add
          (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $l1)) (i16x8.extend_low_i8x16_u (local.get $l1)))
          (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $l1)) (i16x8.extend_high_i8x16_u (local.get $l1)))))
        (i32.const 9))))
    (local.set $v1 (i32x4.add
      (i32x4.extadd_pairwise_i16x8_u (i16x8.add (i16x8.extadd_pairwise_i8x16_u (local.get $h0)) (i16x8.extadd_pairwise_i8x16_u (local.get $h1))))
      (i32x4.shl (i32x4.add
        (i32x4.add
          (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $h0)) (i16x8.extend_low_i8x16_u (local.get $h0)))
          (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $h0)) (i16x8.extend_high_i8x16_u (local.get $h0))))
        (i32x4.add
          (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $h1)) (i16x8.extend_low_i8x16_u (local.get $h1)))
          (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $h1)) (i16x8.extend_high_i8x16_u (local.get $h1)))))
        (i32.const 9))))
    (local.set $t0 (i8x16.min_u
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (i8x16.min_u (local.get $l0) (local.get $l1)) (v128.xor (i8x16.max_u (local.get $l0) (local.get $l1)) (i8x16.splat (i32.const 15))))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (i8x16.min_u (local.get $l0) (local.get $l1)) (v128.xor (i8x16.max_u (local.get $l0) (local.get $l1)) (i8x16.splat (i32.const 15))))))
    (local.set $t1 (i8x16.min_u
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (i8x16.min_u (local.get $h0) (local.get $h1)) (v128.xor (i8x16.max_u (local.get $h0) (local.get $h1)) (i8x16.splat (i32.const 15))))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (i8x16.min_u (local.get $h0) (local.get $h1)) (v128.xor (i8x16.max_u (local.get $h0) (local.get $h1)) (i8x16.splat (i32.const 15))))))
    (local.set $x0 (v128.load offset=48 (local.get $o)))
    (local.set $x1 (v128.load offset=64 (local.get $o)))
    (local.set $l0 (v128.and (local.get $x0) (i8x16.splat (i32.const 15))))
    (local.set $l1 (v128.and (local.get $x1) (i8x16.splat (i32.const 15))))
    (local.set $h0 (i8x16.shr_u (local.get $x0) (i32.const 4)))
    (local.set $h1 (i8x16.shr_u (local.get $x1) (i32.const 4)))
    (local.set $v2 (i32x4.add
      (i32x4.extadd_pairwise_i16x8_u (i16x8.add (i16x8.extadd_pairwise_i8x16_u (local.get $l0)) (i16x8.extadd_pairwise_i8x16_u (local.get $l1))))
      (i32x4.shl (i32x4.add
        (i32x4.add
          (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $l0)) (i16x8.extend_low_i8x16_u (local.get $l0)))
          (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $l0)) (i16x8.extend_high_i8x16_u (local.get $l0))))
        (i32x4.add
          (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $l1)) (i16x8.extend_low_i8x16_u (local.get $l1)))
          (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $l1)) (i16x8.extend_high_i8x16_u (local.get $l1)))))
        (i32.const 9))))
    (local.set $v3 (i32x4.add
      (i32x4.extadd_pairwise_i16x8_u (i16x8.add (i16x8.extadd_pairwise_i8x16_u (local.get $h0)) (i16x8.extadd_pairwise_i8x16_u (local.get $h1))))
      (i32x4.shl (i32x4.add
        (i32x4.add
          (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $h0)) (i16x8.extend_low_i8x16_u (local.get $h0)))
          (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $h0)) (i16x8.extend_high_i8x16_u (local.get $h0))))
        (i32x4.add
          (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $h1)) (i16x8.extend_low_i8x16_u (local.get $h1)))
          (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $h1)) (i16x8.extend_high_i8x16_u (local.get $h1)))))
        (i32.const 9))))
    (local.set $t2 (i8x16.min_u
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (i8x16.min_u (local.get $l0) (local.get $l1)) (v128.xor (i8x16.max_u (local.get $l0) (local.get $l1)) (i8x16.splat (i32.const 15))))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (i8x16.min_u (local.get $l0) (local.get $l1)) (v128.xor (i8x16.max_u (local.get $l0) (local.get $l1)) (i8x16.splat (i32.const 15))))))
    (local.set $t3 (i8x16.min_u
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (i8x16.min_u (local.get $h0) (local.get $h1)) (v128.xor (i8x16.max_u (local.get $h0) (local.get $h1)) (i8x16.splat (i32.const 15))))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (i8x16.min_u (local.get $h0) (local.get $h1)) (v128.xor (i8x16.max_u (local.get $h0) (local.get $h1)) (i8x16.splat (i32.const 15))))))
    (local.set $x0 (v128.load offset=80 (local.get $o)))
    (local.set $x1 (v128.load offset=96 (local.get $o)))
    (local.set $l0 (v128.and (local.get $x0) (i8x16.splat (i32.const 15))))
    (local.set $l1 (v128.and (local.get $x1) (i8x16.splat (i32.const 15))))
    (local.set $h0 (i8x16.shr_u (local.get $x0) (i32.const 4)))
    (local.set $h1 (i8x16.shr_u (local.get $x1) (i32.const 4)))
    (local.set $v4 (i32x4.add
      (i32x4.extadd_pairwise_i16x8_u (i16x8.add (i16x8.extadd_pairwise_i8x16_u (local.get $l0)) (i16x8.extadd_pairwise_i8x16_u (local.get $l1))))
      (i32x4.shl (i32x4.add
        (i32x4.add
          (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $l0)) (i16x8.extend_low_i8x16_u (local.get $l0)))
          (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $l0)) (i16x8.extend_high_i8x16_u (local.get $l0))))
        (i32x4.add
          (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $l1)) (i16x8.extend_low_i8x16_u (local.get $l1)))
          (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $l1)) (i16x8.extend_high_i8x16_u (local.get $l1)))))
        (i32.const 9))))
    (local.set $v5 (i32x4.add
      (i32x4.extadd_pairwise_i16x8_u (i16x8.add (i16x8.extadd_pairwise_i8x16_u (local.get $h0)) (i16x8.extadd_pairwise_i8x16_u (local.get $h1))))
      (i32x4.shl (i32x4.add
        (i32x4.add
          (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $h0)) (i16x8.extend_low_i8x16_u (local.get $h0)))
          (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $h0)) (i16x8.extend_high_i8x16_u (local.get $h0))))
        (i32x4.add
          (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $h1)) (i16x8.extend_low_i8x16_u (local.get $h1)))
          (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $h1)) (i16x8.extend_high_i8x16_u (local.get $h1)))))
        (i32.const 9))))
    (local.set $t4 (i8x16.min_u
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (i8x16.min_u (local.get $l0) (local.get $l1)) (v128.xor (i8x16.max_u (local.get $l0) (local.get $l1)) (i8x16.splat (i32.const 15))))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (i8x16.min_u (local.get $l0) (local.get $l1)) (v128.xor (i8x16.max_u (local.get $l0) (local.get $l1)) (i8x16.splat (i32.const 15))))))
    (local.set $t5 (i8x16.min_u
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (i8x16.min_u (local.get $h0) (local.get $h1)) (v128.xor (i8x16.max_u (local.get $h0) (local.get $h1)) (i8x16.splat (i32.const 15))))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (i8x16.min_u (local.get $h0) (local.get $h1)) (v128.xor (i8x16.max_u (local.get $h0) (local.get $h1)) (i8x16.splat (i32.const 15))))))
    (local.set $x0 (v128.load offset=112 (local.get $o)))
    (local.set $x1 (v128.load offset=128 (local.get $o)))
    (local.set $l0 (v128.and (local.get $x0) (i8x16.splat (i32.const 15))))
    (local.set $l1 (v128.and (local.get $x1) (i8x16.splat (i32.const 15))))
    (local.set $h0 (i8x16.shr_u (local.get $x0) (i32.const 4)))
    (local.set $h1 (i8x16.shr_u (local.get $x1) (i32.const 4)))
    (local.set $v6 (i32x4.add
      (i32x4.extadd_pairwise_i16x8_u (i16x8.add (i16x8.extadd_pairwise_i8x16_u (local.get $l0)) (i16x8.extadd_pairwise_i8x16_u (local.get $l1))))
      (i32x4.shl (i32x4.add
        (i32x4.add
          (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $l0)) (i16x8.extend_low_i8x16_u (local.get $l0)))
          (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $l0)) (i16x8.extend_high_i8x16_u (local.get $l0))))
        (i32x4.add
          (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $l1)) (i16x8.extend_low_i8x16_u (local.get $l1)))
          (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $l1)) (i16x8.extend_high_i8x16_u (local.get $l1)))))
        (i32.const 9))))
    (local.set $v7 (i32x4.add
      (i32x4.extadd_pairwise_i16x8_u (i16x8.add (i16x8.extadd_pairwise_i8x16_u (local.get $h0)) (i16x8.extadd_pairwise_i8x16_u (local.get $h1))))
      (i32x4.shl (i32x4.add
        (i32x4.add
          (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $h0)) (i16x8.extend_low_i8x16_u (local.get $h0)))
          (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $h0)) (i16x8.extend_high_i8x16_u (local.get $h0))))
        (i32x4.add
          (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_u (local.get $h1)) (i16x8.extend_low_i8x16_u (local.get $h1)))
          (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_u (local.get $h1)) (i16x8.extend_high_i8x16_u (local.get $h1)))))
        (i32.const 9))))
    (local.set $t6 (i8x16.min_u
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (i8x16.min_u (local.get $l0) (local.get $l1)) (v128.xor (i8x16.max_u (local.get $l0) (local.get $l1)) (i8x16.splat (i32.const 15))))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (i8x16.min_u (local.get $l0) (local.get $l1)) (v128.xor (i8x16.max_u (local.get $l0) (local.get $l1)) (i8x16.splat (i32.const 15))))))
    (local.set $t7 (i8x16.min_u
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (i8x16.min_u (local.get $h0) (local.get $h1)) (v128.xor (i8x16.max_u (local.get $h0) (local.get $h1)) (i8x16.splat (i32.const 15))))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (i8x16.min_u (local.get $h0) (local.get $h1)) (v128.xor (i8x16.max_u (local.get $h0) (local.get $h1)) (i8x16.splat (i32.const 15))))))
    ;; four lanes each into one: r0 = sub-blocks 0..3, r1 = 4..7
    (local.set $u (i32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $v0) (local.get $v1))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $v0) (local.get $v1))))
    (local.set $w (i32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $v2) (local.get $v3))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $v2) (local.get $v3))))
    (local.set $r0 (i32x4.add
      (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $u) (local.get $w))
      (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $u) (local.get $w))))
    (local.set $u (i32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $v4) (local.get $v5))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $v4) (local.get $v5))))
    (local.set $w (i32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $v6) (local.get $v7))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $v6) (local.get $v7))))
    (local.set $r1 (i32x4.add
      (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $u) (local.get $w))
      (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $u) (local.get $w))))
    ;; the extrema tree: 8 → 4 → 2 → 1 candidates; z byte 2k = smallest code of k, 2k + 1 = 15 − largest
    (local.set $t0 (i8x16.min_u
      (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $t0) (local.get $t1))
      (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $t0) (local.get $t1))))
    (local.set $t2 (i8x16.min_u
      (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $t2) (local.get $t3))
      (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $t2) (local.get $t3))))
    (local.set $t4 (i8x16.min_u
      (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $t4) (local.get $t5))
      (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $t4) (local.get $t5))))
    (local.set $t6 (i8x16.min_u
      (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $t6) (local.get $t7))
      (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $t6) (local.get $t7))))
    (local.set $t0 (i8x16.min_u
      (i8x16.shuffle 0 1 4 5 8 9 12 13 16 17 20 21 24 25 28 29 (local.get $t0) (local.get $t2))
      (i8x16.shuffle 2 3 6 7 10 11 14 15 18 19 22 23 26 27 30 31 (local.get $t0) (local.get $t2))))
    (local.set $t4 (i8x16.min_u
      (i8x16.shuffle 0 1 4 5 8 9 12 13 16 17 20 21 24 25 28 29 (local.get $t4) (local.get $t6))
      (i8x16.shuffle 2 3 6 7 10 11 14 15 18 19 22 23 26 27 30 31 (local.get $t4) (local.get $t6))))
    (local.set $z (i8x16.min_u
      (i8x16.shuffle 0 2 4 6 8 10 12 14 16 18 20 22 24 26 28 30 (local.get $t0) (local.get $t4))
      (i8x16.shuffle 1 3 5 7 9 11 13 15 17 19 21 23 25 27 29 31 (local.get $t0) (local.get $t4))))
    ;; smallest codes (u8 lanes 0..7) and largest ones, as i32 lanes for k 0..3 and 4..7
    (local.set $ql (i16x8.extend_low_i8x16_u (i8x16.shuffle 0 2 4 6 8 10 12 14 0 0 0 0 0 0 0 0 (local.get $z) (local.get $z))))
    (local.set $qh (i16x8.extend_low_i8x16_u (v128.xor (i8x16.shuffle 1 3 5 7 9 11 13 15 1 1 1 1 1 1 1 1 (local.get $z) (local.get $z)) (i8x16.splat (i32.const 15)))))
    (local.set $ql0 (i32x4.extend_low_i16x8_u (local.get $ql)))
    (local.set $ql1 (i32x4.extend_high_i16x8_u (local.get $ql)))
    (local.set $qh0 (i32x4.extend_low_i16x8_u (local.get $qh)))
    (local.set $qh1 (i32x4.extend_high_i16x8_u (local.get $qh)))
    (call $floats (i32.const 0) (local.get $r0) (local.get $ql0) (local.get $qh0) (local.get $a0) (local.get $b0))
    (call $floats (i32.const 1)
      (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $r0) (local.get $r0))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $ql0) (local.get $ql0))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $qh0) (local.get $qh0))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $a0) (local.get $a0))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $b0) (local.get $b0)))
    (call $floats (i32.const 2) (local.get $r1) (local.get $ql1) (local.get $qh1) (local.get $a1) (local.get $b1))
    (call $floats (i32.const 3)
      (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $r1) (local.get $r1))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $ql1) (local.get $ql1))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $qh1) (local.get $qh1))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $a1) (local.get $a1))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $b1) (local.get $b1))))

  ;; Adds nb blocks at src, whose first value is value v0 of the tensor, to the open run and the
  ;; runs after it; writes a record at rec for each run that opened or closed; returns how many.
  (func (export "q4k_runs") (param $src i32) (param $nb i32) (param $v0 f64) (param $rec i32) (result i32)
    (local $end i32) (local $o i32) (local $k i32)
    (local $nrec i32) (local $st i32) (local $j0 i32) (local $j1 i32) (local $geo i32)
    (local $v i64) (local $vs i64) (local $ve i64) (local $stop i64) (local $segEnd i64)
    (local $tw i64) (local $th i64) (local $H i64) (local $cap i64)
    (local $p i64) (local $t i64) (local $pix i64) (local $b1 i64)
    (local $twi i32) (local $thi i32) (local $Hi i32) (local $ipx i32) (local $ipy i32) (local $ihx i32) (local $ihy i32) (local $ipxEnd i32)
    (local $a32 f32) (local $b32 f32) (local $finite i32)
    (local $a f64) (local $b f64) (local $aa f64) (local $ab2 f64) (local $bb f64)
    (local $n f64) (local $s1 f64) (local $s2 f64) (local $x0 f64) (local $x1 f64) (local $lo f64) (local $hi f64)
    (local $rs f64) (local $rq f64) (local $rn f64) (local $rlo f64) (local $rhi f64) (local $rbad f64)
    (local $x v128) (local $y v128) (local $m0 v128) (local $m1 v128)
    (local.set $segEnd (i64.trunc_f64_s (f64.load (i32.const 0))))
    (local.set $rs (f64.load (i32.const 8)))
    (local.set $rq (f64.load (i32.const 16)))
    (local.set $rn (f64.load (i32.const 24)))
    (local.set $rlo (f64.load (i32.const 32)))
    (local.set $rhi (f64.load (i32.const 40)))
    (local.set $rbad (f64.load (i32.const 48)))
    (local.set $tw (i64.trunc_f64_u (f64.load (i32.const 56))))
    (local.set $th (i64.trunc_f64_u (f64.load (i32.const 64))))
    (local.set $H (i64.trunc_f64_u (f64.load (i32.const 72))))
    (local.set $cap (i64.trunc_f64_u (f64.load (i32.const 80))))
    (local.set $v (i64.trunc_f64_u (local.get $v0)))
    (local.set $twi (i32.wrap_i64 (local.get $tw)))
    (local.set $thi (i32.wrap_i64 (local.get $th)))
    (local.set $Hi (i32.wrap_i64 (local.get $H)))
    ;; per heat column hx: where its span ends (pixel, at 512 + 4hx) and, when that is not the
    ;; row's end, the heat column of the next pixel (at 4608 + 4hx)
    (local.set $ihx (i32.const 0))
    (loop $table
      (local.set $ipxEnd (i32.div_u (i32.sub (i32.add (i32.mul (i32.add (local.get $ihx) (i32.const 1)) (local.get $twi)) (local.get $Hi)) (i32.const 1)) (local.get $Hi)))
      (if (i32.gt_u (local.get $ipxEnd) (local.get $twi)) (then (local.set $ipxEnd (local.get $twi))))
      (i32.store offset=512 (i32.shl (local.get $ihx) (i32.const 2)) (local.get $ipxEnd))
      (i32.store offset=4608 (i32.shl (local.get $ihx) (i32.const 2)) (i32.div_u (i32.mul (local.get $ipxEnd) (local.get $Hi)) (local.get $twi)))
      (local.set $ihx (i32.add (local.get $ihx) (i32.const 1)))
      (br_if $table (i32.lt_u (local.get $ihx) (local.get $Hi))))
    (f64.store offset=64 (local.get $rec) (f64.const 0))
    (local.set $end (i32.add (local.get $src) (i32.mul (local.get $nb) (i32.const 144))))
    (local.set $o (local.get $src))
    (block $blocks_done
      (loop $blocks
        (br_if $blocks_done (i32.ge_u (local.get $o) (local.get $end)))
        (call $prep (local.get $o))
        (local.set $k (i32.const 0))
        (loop $subs
          (local.set $vs (local.get $v))
          (local.set $ve (i64.add (local.get $v) (i64.const 32)))
          (loop $pieces
            (if (i64.lt_s (local.get $segEnd) (i64.const 0))
              (then
                ;; TensorPyramid.openSegment: the run to the end of v's heat pixel span on its
                ;; pixel row. A run starts where the one before it ended, on a pixel boundary
                ;; (v = ceil(b1·256/144) maps back to byte b1), so after a close the next run's
                ;; pixel and heat column follow from the last one's and the tables, without
                ;; divisions; the first run of a call finds its pixel by dividing.
                (if (local.get $geo)
                  (then
                    (if (i32.eq (local.get $ipxEnd) (local.get $twi))
                      (then
                        (local.set $ihx (i32.const 0))
                        (local.set $ipy (i32.add (local.get $ipy) (i32.const 1)))
                        (if (i32.eq (local.get $ipy) (local.get $thi))
                          (then
                            (local.set $ipy (i32.const 0))
                            (local.set $t (i64.add (local.get $t) (i64.const 1)))))
                        (local.set $ihy (i32.div_u (i32.mul (local.get $ipy) (local.get $Hi)) (local.get $thi))))
                      (else
                        (local.set $ihx (i32.load offset=4608 (i32.shl (local.get $ihx) (i32.const 2)))))))
                  (else
                    (local.set $p (i64.div_u (i64.mul (local.get $v) (i64.const 144)) (i64.const 256)))
                    (local.set $t (i64.div_u (local.get $p) (local.get $cap)))
                    (local.set $pix (i64.div_u (i64.sub (local.get $p) (i64.mul (local.get $t) (local.get $cap))) (i64.const 4)))
                    (local.set $ipy (i32.wrap_i64 (i64.div_u (local.get $pix) (local.get $tw))))
                    (local.set $ipx (i32.wrap_i64 (i64.sub (local.get $pix) (i64.mul (i64.extend_i32_u (local.get $ipy)) (local.get $tw)))))
                    (local.set $ihx (i32.div_u (i32.mul (local.get $ipx) (local.get $Hi)) (local.get $twi)))
                    (local.set $ihy (i32.div_u (i32.mul (local.get $ipy) (local.get $Hi)) (local.get $thi)))
                    (local.set $geo (i32.const 1))))
                ;; the span's end, and the run's end value through f64 (exact: b1·16 < 2^53,
                ;; and a non-integer quotient is at least 1/9 from the next integer)
                (local.set $ipxEnd (i32.load offset=512 (i32.shl (local.get $ihx) (i32.const 2))))
                (local.set $b1 (i64.add (i64.mul (local.get $t) (local.get $cap))
                  (i64.shl (i64.add (i64.mul (i64.extend_i32_u (local.get $ipy)) (local.get $tw)) (i64.extend_i32_u (local.get $ipxEnd))) (i64.const 2))))
                (local.set $segEnd (i64.trunc_f64_u (f64.ceil (f64.div (f64.convert_i64_u (i64.shl (local.get $b1) (i64.const 4))) (f64.const 9)))))
                (f64.store offset=48 (local.get $rec) (f64.convert_i64_s (local.get $t)))
                (f64.store offset=56 (local.get $rec) (f64.convert_i32_u (i32.add (i32.mul (local.get $ihy) (local.get $Hi)) (local.get $ihx))))
                (f64.store offset=64 (local.get $rec) (f64.const 2))))
            (if (i32.and (i64.eq (local.get $v) (local.get $vs)) (i64.ge_s (local.get $segEnd) (local.get $ve)))
              (then
                ;; the whole sub-block in the run (most pieces): $prep's figures
                (local.set $stop (local.get $ve))
                (if (i32.load offset=384 (i32.shl (local.get $k) (i32.const 2)))
                  (then
                    (local.set $rs (f64.add (local.get $rs) (f64.load offset=128 (i32.shl (local.get $k) (i32.const 3)))))
                    (local.set $rq (f64.add (local.get $rq) (f64.load offset=192 (i32.shl (local.get $k) (i32.const 3)))))
                    (local.set $rn (f64.add (local.get $rn) (f64.const 32)))
                    (local.set $lo (f64.load offset=256 (i32.shl (local.get $k) (i32.const 3))))
                    (local.set $hi (f64.load offset=320 (i32.shl (local.get $k) (i32.const 3))))
                    (local.set $rlo (select (local.get $lo) (local.get $rlo) (f64.lt (local.get $lo) (local.get $rlo))))
                    (local.set $rhi (select (local.get $hi) (local.get $rhi) (f64.gt (local.get $hi) (local.get $rhi)))))
                  (else
                    (local.set $rbad (f64.add (local.get $rbad) (f64.const 32))))))
              (else
                ;; part of a sub-block: its codes under a mask of the piece's lanes
                (local.set $a32 (f32.load offset=416 (i32.shl (local.get $k) (i32.const 2))))
                (local.set $b32 (f32.load offset=448 (i32.shl (local.get $k) (i32.const 2))))
                (local.set $finite (i32.load offset=384 (i32.shl (local.get $k) (i32.const 2))))
                (local.set $a (f64.promote_f32 (local.get $a32)))
                (local.set $b (f64.promote_f32 (local.get $b32)))
                (local.set $aa (f64.mul (local.get $a) (local.get $a)))
                (local.set $ab2 (f64.mul (f64.mul (f64.const 2) (local.get $a)) (local.get $b)))
                (local.set $bb (f64.mul (local.get $b) (local.get $b)))
                ;; sub-block k: the low (k even) or high nibbles of qs[32·(k >> 1) ..]
                (local.set $x (v128.load offset=16 (i32.add (local.get $o) (i32.shl (i32.shr_u (local.get $k) (i32.const 1)) (i32.const 5)))))
                (local.set $y (v128.load offset=32 (i32.add (local.get $o) (i32.shl (i32.shr_u (local.get $k) (i32.const 1)) (i32.const 5)))))
                (if (i32.and (local.get $k) (i32.const 1))
                  (then
                    (local.set $x (i8x16.shr_u (local.get $x) (i32.const 4)))
                    (local.set $y (i8x16.shr_u (local.get $y) (i32.const 4))))
                  (else
                    (local.set $x (v128.and (local.get $x) (i8x16.splat (i32.const 15))))
                    (local.set $y (v128.and (local.get $y) (i8x16.splat (i32.const 15))))))
                (local.set $stop (select (local.get $segEnd) (local.get $ve) (i64.lt_s (local.get $segEnd) (local.get $ve))))
                (local.set $n (f64.convert_i64_s (i64.sub (local.get $stop) (local.get $v))))
                (if (local.get $finite)
                  (then
                    (local.set $j0 (i32.wrap_i64 (i64.sub (local.get $v) (local.get $vs))))
                    (local.set $j1 (i32.wrap_i64 (i64.sub (local.get $stop) (local.get $vs))))
                    ;; the piece's lanes: all of them for a whole sub-block (most pieces)
                    (if (i32.and (i32.eqz (local.get $j0)) (i32.eq (local.get $j1) (i32.const 32)))
                      (then
                        (local.set $m0 (v128.const i32x4 -1 -1 -1 -1))
                        (local.set $m1 (v128.const i32x4 -1 -1 -1 -1)))
                      (else
                        (local.set $m0 (v128.and
                          (i8x16.ge_u (v128.const i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15) (i8x16.splat (local.get $j0)))
                          (i8x16.lt_u (v128.const i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15) (i8x16.splat (local.get $j1)))))
                        (local.set $m1 (v128.and
                          (i8x16.ge_u (v128.const i8x16 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31) (i8x16.splat (local.get $j0)))
                          (i8x16.lt_u (v128.const i8x16 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31) (i8x16.splat (local.get $j1)))))))
                    (local.set $st (call $codes (local.get $x) (local.get $y) (local.get $m0) (local.get $m1)))
                    (local.set $s1 (f64.convert_i32_u (i32.and (local.get $st) (i32.const 511))))
                    (local.set $s2 (f64.convert_i32_u (i32.and (i32.shr_u (local.get $st) (i32.const 9)) (i32.const 8191))))
                    ;; rs += a·s1 − b·n; rq += aa·s2 − ab2·s1 + bb·n (JavaScript's order)
                    (local.set $rs (f64.add (local.get $rs) (f64.sub (f64.mul (local.get $a) (local.get $s1)) (f64.mul (local.get $b) (local.get $n)))))
                    (local.set $rq (f64.add (local.get $rq) (f64.add
                      (f64.sub (f64.mul (local.get $aa) (local.get $s2)) (f64.mul (local.get $ab2) (local.get $s1)))
                      (f64.mul (local.get $bb) (local.get $n)))))
                    (local.set $rn (f64.add (local.get $rn) (local.get $n)))
                    (local.set $x0 (f64.promote_f32 (f32.demote_f64 (f64.sub
                      (f64.mul (local.get $a) (f64.convert_i32_u (i32.and (i32.shr_u (local.get $st) (i32.const 22)) (i32.const 15))))
                      (local.get $b)))))
                    (local.set $x1 (f64.promote_f32 (f32.demote_f64 (f64.sub
                      (f64.mul (local.get $a) (f64.convert_i32_u (i32.shr_u (local.get $st) (i32.const 26))))
                      (local.get $b)))))
                    (local.set $lo (select (local.get $x0) (local.get $x1) (f64.lt (local.get $x0) (local.get $x1))))
                    (local.set $hi (select (local.get $x1) (local.get $x0) (f64.lt (local.get $x0) (local.get $x1))))
                    (local.set $rlo (select (local.get $lo) (local.get $rlo) (f64.lt (local.get $lo) (local.get $rlo))))
                    (local.set $rhi (select (local.get $hi) (local.get $rhi) (f64.gt (local.get $hi) (local.get $rhi)))))
                  (else
                    (local.set $rbad (f64.add (local.get $rbad) (local.get $n)))))))
            (if (i64.eq (local.get $stop) (local.get $segEnd))
              (then
                ;; the run closes: its record, then a fresh one
                (f64.store (local.get $rec) (local.get $rs))
                (f64.store offset=8 (local.get $rec) (local.get $rq))
                (f64.store offset=16 (local.get $rec) (local.get $rlo))
                (f64.store offset=24 (local.get $rec) (local.get $rhi))
                (f64.store offset=32 (local.get $rec) (local.get $rn))
                (f64.store offset=40 (local.get $rec) (local.get $rbad))
                (f64.store offset=64 (local.get $rec) (f64.add (f64.load offset=64 (local.get $rec)) (f64.const 1)))
                (local.set $rec (i32.add (local.get $rec) (i32.const 72)))
                (local.set $nrec (i32.add (local.get $nrec) (i32.const 1)))
                (f64.store offset=64 (local.get $rec) (f64.const 0))
                (local.set $rs (f64.const 0))
                (local.set $rq (f64.const 0))
                (local.set $rn (f64.const 0))
                (local.set $rlo (f64.const inf))
                (local.set $rhi (f64.const -inf))
                (local.set $rbad (f64.const 0))
                (local.set $segEnd (i64.const -1))))
            (local.set $v (local.get $stop))
            (br_if $pieces (i64.lt_u (local.get $v) (local.get $ve))))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br_if $subs (i32.lt_u (local.get $k) (i32.const 8))))
        (local.set $o (i32.add (local.get $o) (i32.const 144)))
        (br $blocks)))
    ;; a run opened here and still open: its record counts too (for its opening)
    (if (f64.ne (f64.load offset=64 (local.get $rec)) (f64.const 0))
      (then (local.set $nrec (i32.add (local.get $nrec) (i32.const 1)))))
    (f64.store (i32.const 0) (f64.convert_i64_s (local.get $segEnd)))
    (f64.store (i32.const 8) (local.get $rs))
    (f64.store (i32.const 16) (local.get $rq))
    (f64.store (i32.const 24) (local.get $rn))
    (f64.store (i32.const 32) (local.get $rlo))
    (f64.store (i32.const 40) (local.get $rhi))
    (f64.store (i32.const 48) (local.get $rbad))
    (local.get $nrec))
)
