#!/usr/bin/env bash
# Reproduces the default model, resources/models/pxi-tinystories.gguf, from its recipe
# (resources/models/pxi-tinystories.recipe.json): the teacher's stories, then pxi train on this
# machine's WebGPU adapter (resumable: run it again after an interruption), then its held-out
# bits per byte measured by llama.cpp. Needs scripts/bootstrap.sh to have run (llama.cpp in
# tests/llama-cpp) and ../shared/fixtures beside the project. specs/training.md, "The default model".
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .cache/default-model
# 1. 5000 stories sampled from stories260K at temperature 1 by llama.cpp (story i with seed 1 + i).
npx tsx scripts/default-model/teacher-corpus.ts --out .cache/default-model/teacher-stories.txt --stories 5000 --seed 1
sha256sum .cache/default-model/teacher-stories.txt
# 2. Training (its own data folder, so it does not touch the user's volume).
PXI_HOME=.cache/default-model/home node bin/pxi.js train resources/models/pxi-tinystories.recipe.json \
  --out resources/models/pxi-tinystories.gguf --no-import
# 3. Bits per byte on the validation text, and the anchor measured the same way.
npx tsx scripts/default-model/bits-per-byte.ts resources/models/pxi-tinystories.gguf ../shared/fixtures/corpus/tinystories-valid.txt
npx tsx scripts/default-model/bits-per-byte.ts ../shared/fixtures/models/stories260K.gguf ../shared/fixtures/corpus/tinystories-valid.txt
