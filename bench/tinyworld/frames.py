"""Frames of free-running rollouts side by side (09_train, round 12): one row per model, the true video last.

  python frames.py OUT.png WORLD SEED T1,T2,... MODEL [MODEL ...]

Each MODEL (a checkpoint path or a shipped name) continues world WORLD's first chunk with sampling seed SEED,
as 11_results does, for max(T) + 1 seconds; the row shows the frames at seconds T1, T2, ... (4x nearest upscale)."""
import math, sys, torch
from PIL import Image
from videomla.checkpoint import load_checkpoint, load_pretrained
from videomla.data import make_world
from videomla.train import continue_video

out, world, seed, secs, *specs = sys.argv[1:]
secs = [float(s) for s in secs.split(',')]
w = make_world(int(world))
pick = lambda v: torch.cat([v[int(s * w.fps)] for s in secs], -1)          # (C, H, len(secs) * W)
rows = []
for spec in specs:
    m = (load_pretrained(spec) if '.' not in spec else load_checkpoint(spec)).eval()
    Fc = m.cfg.frames_per_chunk; n = Fc * math.ceil((max(secs) + 1) * w.fps / Fc)
    with torch.no_grad():
        ctx = w.frames(0, Fc).transpose(0, 1)[None]                          # (1, Fc, C, H, W)
        v = torch.cat(list(continue_video(m, ctx, n, seed=int(seed), cache=m.new_cache(1))), 1)[0]
    rows.append(pick(v.float()))
rows.append(pick(w.frames(0, int((max(secs) + 1) * w.fps)).transpose(0, 1)))
img = (torch.cat(rows, -2).clamp(-1, 1) + 1) / 2                                # (C, rows * H, cols * W)
pil = Image.fromarray((img.permute(1, 2, 0) * 255).round().byte().numpy())
pil.resize((pil.width * 4, pil.height * 4), Image.NEAREST).save(out)
print(f'wrote {out}: {len(specs)} models + the truth at {secs} s')
