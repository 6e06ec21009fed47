"""Frames of free-running rollouts side by side (09_train, round 12): one row per model, the true video last.

  python frames.py OUT.png WORLD SEED T1,T2,... MODEL [MODEL ...]

Each MODEL (a checkpoint path or a shipped name) continues world WORLD's first chunk with sampling seed SEED, as
11_results does; the row shows the generated frames at T1, T2, ... seconds after that chunk, and the last row the
true frames at the same times (4x nearest upscale)."""
import argparse, math, torch
from PIL import Image
from videomla.checkpoint import load_checkpoint, load_pretrained
from videomla.data import make_world
from videomla.train import continue_video

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument('out', help='the PNG to write')
p.add_argument('world', type=int, help="the world's seed (11_results: 201-203)")
p.add_argument('seed', type=int, help='the sampling seed')
p.add_argument('secs', type=lambda s: [float(x) for x in s.split(',')], help='seconds, comma-separated')
p.add_argument('models', nargs='+', help='checkpoint paths or shipped names (dense, mla-svd, ...)')
a = p.parse_args()
if min(a.secs) < 0: p.error(f'secs: must be >= 0, got {a.secs}')
w = make_world(a.world)
pick = lambda v: torch.cat([v[int(s * w.fps)] for s in a.secs], -1)        # (C, H, len(secs) * W)
rows = []
for spec in a.models:
    m = (load_pretrained(spec) if '.' not in spec else load_checkpoint(spec)).eval()
    Fc = m.cfg.frames_per_chunk; n = Fc * math.ceil((max(a.secs) + 1) * w.fps / Fc)
    with torch.no_grad():
        ctx = w.frames(0, Fc).transpose(0, 1)[None]                          # (1, Fc, C, H, W)
        v = torch.cat(list(continue_video(m, ctx, n, seed=a.seed, cache=m.new_cache(1))), 1)[0]
    rows.append(pick(v.float()))                         # generated frame i is the world's frame Fc + i
rows.append(pick(w.frames(Fc, n).transpose(0, 1)))
img = (torch.cat(rows, -2).clamp(-1, 1) + 1) / 2                                # (C, rows * H, cols * W)
pil = Image.fromarray((img.permute(1, 2, 0) * 255).round().byte().numpy())
pil.resize((pil.width * 4, pil.height * 4), Image.NEAREST).save(a.out)
print(f'wrote {a.out}: {len(a.models)} models + the truth at {a.secs} s')
