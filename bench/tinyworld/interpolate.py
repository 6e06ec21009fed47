"""Weight interpolation between two checkpoints of one lineage (09_train, round 9):
theta = (1 - ALPHA) * theta_A + ALPHA * theta_B, written as a float16 checkpoint whose metadata is B's plus a
record of the interpolation (both files and ALPHA). A and B must have the same config.

  python interpolate.py A.safetensors B.safetensors ALPHA OUT.safetensors"""
import sys, torch
from videomla.checkpoint import load_checkpoint, save_checkpoint

from pathlib import Path

if len(sys.argv) != 5: raise SystemExit(__doc__)
a_path, b_path, alpha, out = sys.argv[1:]
try: alpha = float(alpha)
except ValueError: alpha = float('nan')
if not 0 <= alpha <= 1: raise SystemExit(f'ALPHA: must be a number in [0, 1], got {sys.argv[3]!r}')
for name, p in (('A', a_path), ('B', b_path)):
    if not Path(p).is_file(): raise SystemExit(f'{name}: no such file {p}')
a, b = load_checkpoint(a_path), load_checkpoint(b_path)
if a.cfg != b.cfg: raise SystemExit('A and B: configs differ, cannot interpolate')
sa, sb = a.state_dict(), b.state_dict()
b.load_state_dict({k: torch.lerp(sa[k], sb[k], alpha) if sb[k].is_floating_point() else sb[k]
                   for k in sb})      # integer buffers (none today) are B's
meta = dict(b.checkpoint_meta, interpolated=dict(a=a_path.split('/')[-1], b=b_path.split('/')[-1], alpha=alpha))
save_checkpoint(b, out, dtype=torch.float16, **meta)
print(out)
