# The peer for `npm run bench:train`: the same llama training step in PyTorch (Debian's
# python3-torch, OpenBLAS), on the CPU with the given threads. Prints one JSON line:
# {"tokens_per_sec": ..., "step_ms": ...}. Usage:
#   python3 scripts/bench/train-torch.py DIM LAYERS HEADS FF VOCAB CONTEXT BATCH STEPS THREADS
import json, math, sys, time
import torch

dim, layers, heads, ff, vocab, ctx, batch, steps, threads = map(int, sys.argv[1:10])
torch.set_num_threads(threads)
torch.manual_seed(0)
hd = dim // heads

def rms(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w

inv = 1.0 / (10000 ** (torch.arange(0, hd, 2).float() / hd))
ang = torch.arange(ctx).float()[:, None] * inv[None, :]
cos, sin = ang.cos(), ang.sin()

def rope(x):  # x: [B, H, T, hd], adjacent pairs as llama.cpp's normal rope
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), -1).flatten(-2)

P = torch.nn.ParameterList()
def param(*shape, std=0.02, ones=False):
    p = torch.nn.Parameter(torch.ones(*shape) if ones else torch.randn(*shape) * std)
    P.append(p)
    return p

emb = param(vocab, dim)
blocks = []
for _ in range(layers):
    blocks.append(dict(an=param(dim, ones=True), q=param(dim, dim), k=param(dim, dim), v=param(dim, dim), o=param(dim, dim),
                       fn=param(dim, ones=True), g=param(ff, dim), u=param(ff, dim), d=param(dim, ff)))
on = param(dim, ones=True)
mask = torch.full((ctx, ctx), float('-inf')).triu(1)

def loss_of(tok):
    x = emb[tok[:, :-1]]
    B, T, _ = x.shape
    for b in blocks:
        h = rms(x, b['an'])
        q = rope((h @ b['q'].T).view(B, T, heads, hd).transpose(1, 2))
        k = rope((h @ b['k'].T).view(B, T, heads, hd).transpose(1, 2))
        v = (h @ b['v'].T).view(B, T, heads, hd).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + mask, -1) @ v
        x = x + a.transpose(1, 2).reshape(B, T, dim) @ b['o'].T
        h = rms(x, b['fn'])
        x = x + (torch.nn.functional.silu(h @ b['g'].T) * (h @ b['u'].T)) @ b['d'].T
    logits = rms(x, on) @ emb.T
    return torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), tok[:, 1:].reshape(-1))

opt = torch.optim.AdamW(P, lr=1e-3, weight_decay=0.1)
data = torch.randint(0, vocab, (steps + 2, batch, ctx + 1))
def step(i):
    opt.zero_grad()
    l = loss_of(data[i])
    l.backward()
    torch.nn.utils.clip_grad_norm_(P, 1.0)
    opt.step()
step(0); step(1)  # warm-up
t0 = time.perf_counter()
for i in range(steps):
    step(i + 2)
dt = (time.perf_counter() - t0) / steps
print(json.dumps({"tokens_per_sec": batch * ctx / dt, "step_ms": dt * 1000}))
