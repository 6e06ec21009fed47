"""History guidance at sampling (09_train, round 8): each denoising step's velocity becomes
v = v_ref + w (v - v_ref), where v_ref is the same pass against a weaker past. After Song et al. 2025,
"History-Guided Video Diffusion" (vanilla and fractional history guidance).

  python history_guidance.py MODEL MODE W SECS [T_MIN]

MODE: vanilla     v_ref from an empty cache (no past at all);
      fractional:S v_ref from a second cache whose every chunk is committed noised to level S;
      sink        v_ref from a second cache that holds only the given first chunk.
Steps at warped t >= T_MIN are guided (default 0: all four). Free-running rollouts of 11_results' worlds
201-203 x sampling seeds 0-1, scored on their first and last 5 s and on every 5 s window (one JSON line)."""
import json, math, sys, time, torch
torch.set_num_threads(1)
import videomla.rollout as R
from videomla.checkpoint import load_checkpoint, load_pretrained
from videomla.data import make_world
from videomla.evaluate import evaluate_video, frame_stats, METRICS
from videomla.train import continue_video

spec, mode, W, secs = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
t_min = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
kind, _, s_ref = mode.partition(':')
assert kind in ('vanilla', 'fractional', 'sink'), mode
s_ref = float(s_ref or 0)
m = (load_pretrained(spec) if '.' not in spec else load_checkpoint(spec)).eval()
REF = {}

def commit_ref(model, x0, opened=False):
    "Commit a chunk to the reference cache (fractional: noised to s_ref)."
    ref = REF['cache']
    if not opened: ref.begin_chunk()
    if kind == 'sink' and opened: ref.chunk_start = None; return      # only the given chunk stays
    if kind == 'fractional' and s_ref > 0:
        e = torch.randn(x0.shape, generator=REF['g'], dtype=x0.dtype)
        x0 = R.renoise(x0, e, s_ref)
    model.forward_chunk(x0, 1000 * s_ref, ref, None); ref.commit()

def commit_prefix(model, cache, prefix, cross_kv):
    "The library's prefix commit, and the same chunks into the reference cache."
    REF['cache'] = model.new_cache(prefix.shape[0]); REF['g'] = torch.Generator().manual_seed(12345)
    for x0 in prefix.split(model.cfg.frames_per_chunk, dim=1):
        cache.begin_chunk(); model.forward_chunk(x0, 0.0, cache, cross_kv); cache.commit()
        if kind != 'vanilla': commit_ref(model, x0)

def guided_chunk(model, cache, noise, timesteps, generator=None, cross_kv=None, n_train_steps=1000,
                 context_sigma=0.0):
    "07_rollout's denoise_chunk with the guided velocity."
    fresh = lambda: torch.randn(noise.shape, generator=generator, dtype=noise.dtype)
    cache.begin_chunk(); x, ts = noise, timesteps.tolist()
    if kind != 'vanilla': REF['cache'].begin_chunk()
    for k, t in enumerate(ts):
        v = model.forward_chunk(x, t, cache, cross_kv)
        if W != 1 and t >= t_min:
            ref = REF['cache'] if kind != 'vanilla' else model.new_cache(x.shape[0])
            if kind == 'vanilla': ref.begin_chunk()
            v_ref = model.forward_chunk(x, t, ref, cross_kv)
            v = v_ref + W * (v - v_ref)
        x0 = R.predict_x0(x, v, t / n_train_steps)
        if k + 1 < len(ts): x = R.renoise(x0, fresh(), ts[k + 1] / n_train_steps)
    xc, tc = x0, 0.0
    if context_sigma > 0: xc, tc = R.renoise(x0, fresh(), context_sigma), context_sigma * n_train_steps
    model.forward_chunk(xc, tc, cache, cross_kv); cache.commit()
    if kind != 'vanilla': commit_ref(model, x0, opened=True)
    return x0

R.denoise_chunk, R._commit_prefix = guided_chunk, commit_prefix
Fc, rows, t0 = m.cfg.frames_per_chunk, [], time.time()
for ws in (201, 202, 203):
    w = make_world(ws); n = Fc * math.ceil(secs * w.fps / Fc)
    for s in (0, 1):
        with torch.no_grad():
            ctx = w.frames(0, Fc).transpose(0, 1)[None]
            v = torch.cat(list(continue_video(m, ctx, n, seed=s, cache=m.new_cache(1))), 1)[0]
        v = v.transpose(0, 1)
        a, b = evaluate_video(v[:, :40], w), evaluate_video(v[:, -40:], w)
        found = float(frame_stats(v[:, -40:], w)['present'].sum(1).float().mean())
        wins = [evaluate_video(v[:, k:k + 40], w) for k in range(0, v.shape[1] - 39, 40)]
        rows.append(dict(a=a, b=b, found=found, true=w.n_objects, wins=wins))
mean = lambda f: round(sum(f(r) for r in rows) / len(rows), 3)
sd = lambda f: round(float(torch.tensor([f(r) for r in rows]).std()), 3)
print(json.dumps(dict(model=spec, mode=mode, w=W, t_min=t_min, secs=secs,
      short=mean(lambda r: r['a']['overall']), short_sd=sd(lambda r: r['a']['overall']),
      long=mean(lambda r: r['b']['overall']), long_sd=sd(lambda r: r['b']['overall']),
      per={k: mean(lambda r: r['a'][k]) for k in METRICS},
      perlong={k: mean(lambda r: r['b'][k]) for k in METRICS},
      objects=mean(lambda r: r['found']), kept=sum(abs(r['found'] - r['true']) <= 1 for r in rows),
      windows={k: [mean(lambda r: r['wins'][i][k]) for i in range(len(rows[0]['wins']))]
               for k in ('overall', 'background_consistency', 'count_stability')},
      wall_s=round(time.time() - t0))), flush=True)
