"Free-running (FR) or teacher-forced (tf) scores of one model under one sampler: 3 worlds x 2 seeds (09_train, round 7)."
import math, sys, json, torch
torch.set_num_threads(1)
from videomla.checkpoint import load_checkpoint, load_pretrained
from videomla.data import make_world
from videomla.evaluate import evaluate_video, frame_stats, METRICS
from videomla.train import continue_video
spec, steps, shift, secs = sys.argv[1], tuple(int(s) for s in sys.argv[2].split(',')), float(sys.argv[3]), float(sys.argv[4])
tf = len(sys.argv) > 5 and sys.argv[5] == 'tf'
m = (load_pretrained(spec) if '.' not in spec else load_checkpoint(spec)).eval()
Fc = m.cfg.frames_per_chunk
rows = []
for ws in (201, 202, 203):
    w = make_world(ws); n = Fc * math.ceil(secs * w.fps / Fc)
    for s in (0, 1):
        with torch.no_grad():
            if tf:
                true = w.frames(0, 45).transpose(0, 1)[None]; out = []
                for k in range(1, 15):
                    out += list(continue_video(m, true[:, :Fc * k], Fc, seed=s + 100 * k, steps=steps, shift=shift))
            else:
                ctx = w.frames(0, Fc).transpose(0, 1)[None]
                out = list(continue_video(m, ctx, n, seed=s, steps=steps, shift=shift, cache=m.new_cache(1)))
        v = torch.cat(out, 1)[0].transpose(0, 1)
        a = evaluate_video(v[:, :40], w); b = evaluate_video(v[:, -40:], w)
        st = frame_stats(v[:, -40:], w); found = float(st['present'].sum(1).float().mean())
        rows.append(dict(a=a, b=b, found=found, true=w.n_objects))
mean = lambda f: round(sum(f(r) for r in rows) / len(rows), 3)
print(json.dumps(dict(spec=spec, steps=steps, shift=shift, secs=secs, tf=tf,
      short=mean(lambda r: r['a']['overall']), long=mean(lambda r: r['b']['overall']),
      per={k: mean(lambda r: r['a'][k]) for k in METRICS}, perlong={k: mean(lambda r: r['b'][k]) for k in METRICS},
      found=mean(lambda r: r['found']), kept=sum(abs(r['found'] - r['true']) <= 1 for r in rows))), flush=True)
