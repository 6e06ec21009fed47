#!/usr/bin/env python3
"""VideoMLA on one GPU in one run: correctness, the attention table, the window-vs-latent split, the Wan rollout.

Run it from a clone of the repository on a machine with a CUDA GPU, PyTorch and Triton. Nothing else is needed:
`videomla` is imported from the checkout and needs only torch at import (triton for the kernel; einops is not used).

    python bench/gpu.py                  # about 8 minutes on an H100 / H200; writes bench/results/results.{json,md}
    python bench/gpu.py --smoke          # the same code at tiny sizes on a CPU, in seconds (CI runs this)
    python bench/gpu.py --budget 300 --layers 10 --out /tmp/bench

Sections, in order of importance. Each runs inside try/except: an error is recorded in the JSON (message and
traceback) and the next section runs. A global time budget skips a section that no longer fits, an alarm stops
one that overruns its share, and the files are rewritten after every section, so a killed run keeps what it had.

1. env          versions, the device, a bf16 (fp16 on a T4) matmul peak and a copy bandwidth measured here
2. correctness  Triton kernel and FlexAttention vs `latent_attention_ref` (fp32, on upcast inputs) at the Wan
                chunk: 12 heads, d_c = 192, d_R = 32, 3 x 1560 queries against 1 sink + 6 window + 3 chunk frames
                (no mask, as the cached model calls it) and against a clip of 10 frames with a frame-id mask;
                bf16 (where native) and fp16
3. attention    one layer at the Wan chunk, five paths (04_kernel's `bench_paths`): ms, TFLOP/s from
                `attention_costs`, % of the measured matmul peak, x dense, agreement with the torch path
4. split        a 7-chunk rollout three ways: dense with Self-Forcing's context growing to 21 latent frames, dense
                with the sink + window cap, VideoMLA with the cap. Attention alone (per-call timings x layers x
                passes), then whole-model rollouts (30 layers unless the budget says fewer; the depth is recorded)
5. rollout      the Wan-size table: frames per second, peak memory, cache size, largest batch before OOM (a linear
                fit of peak memory at batch 1 and 4, then one denoising pass at that batch to confirm it)
6. frame_shape  the attention table again at one latent frame of queries (1560), if time is left
"""
from __future__ import annotations

import argparse, contextlib, datetime, functools, gc, json, math, platform, signal, subprocess, sys, time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))          # the checkout's videomla, not an installed one

import torch

from videomla.config import VideoMLAConfig, tolerance
from videomla.cache import context_frames
from videomla.kernel import (HAS_FLEX, HAS_TRITON, attention_costs, bench_inputs, bench_paths,
                             absorbed_attention, flex_block_mask, latent_attention,
                             latent_attention_flex, latent_attention_ref)
from videomla.model import CausalVideoDiT
from videomla.rollout import DEFAULT_STEPS, rollout
from videomla.rope import rope_cos_sin, shared_rope_freqs, video_positions

OOM = getattr(torch, 'OutOfMemoryError', torch.cuda.OutOfMemoryError)       # torch < 2.5: only the latter
# relative Frobenius error ||out - ref|| / ||ref|| a dtype may reach against the fp32 reference
REL_TOL = {torch.bfloat16: 1e-2, torch.float16: 2e-3, torch.float32: 1e-4}
# FlexAttention tiles to retry with if the compiler's defaults fail at these head widths (224 / 192)
FLEX_FALLBACK = dict(BLOCK_M=64, BLOCK_N=32, num_warps=4, num_stages=1)
PATH_LABELS = {'dense_sdpa': 'dense MHA, SDPA', 'decompressed_sdpa': 'VideoMLA decompressed + SDPA',
               'absorbed_torch': 'VideoMLA absorbed, torch', 'absorbed_flex': 'VideoMLA absorbed, FlexAttention',
               'absorbed_kernel': 'VideoMLA absorbed, Triton kernel'}


# ----------------------------------------------------------------------------------------------- plumbing
class Overrun(Exception):
    "A section ran past its share of the time budget."


@contextlib.contextmanager
def time_limit(seconds: float):
    "Raise Overrun in the main thread after `seconds` (SIGALRM; no limit where there is none)."
    if not hasattr(signal, 'SIGALRM'):
        yield; return
    def stop(signum, frame): raise Overrun(f'stopped after {seconds:.0f} s, its share of the time budget')
    old = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, max(1.0, seconds))
    try: yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def clean_json(x):
    "x with NaN / inf as None, tuples as lists and other objects as strings: strict JSON."
    if isinstance(x, dict): return {str(k): clean_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)): return [clean_json(v) for v in x]
    if isinstance(x, float): return x if math.isfinite(x) else None
    if x is None or isinstance(x, (bool, int, str)): return x
    if isinstance(x, torch.dtype): return str(x).replace('torch.', '')
    return str(x)


class Run:
    "The run's settings, clock, device and results; writes results.json and results.md."
    def __init__(self, args):
        self.args, self.smoke, self.t0 = args, args.smoke, time.perf_counter()
        self.cuda = torch.cuda.is_available() and not args.smoke
        self.device = 'cuda' if self.cuda else 'cpu'
        self.out = Path(args.out)
        self.cfg = VideoMLAConfig.tiny(n_layers=2) if args.smoke else VideoMLAConfig.wan_1_3b()
        if args.layers: self.cfg = self.cfg.replace(n_layers=args.layers)
        self.half = self._half()
        self.peak_tflops = self.flex_options = None
        self.res = dict(meta=dict(script='bench/gpu.py', mode='smoke' if args.smoke else 'full',
                                  started=datetime.datetime.now().isoformat(timespec='seconds'),
                                  budget_s=args.budget, device=self.device), sections={})

    def _half(self) -> torch.dtype:
        "The timing dtype: bf16 where the GPU computes it natively, fp16 on older GPUs (a T4), fp32 on a CPU."
        if not self.cuda: return torch.float32          # smoke: CPUs are slow in bf16; correctness still is
        return torch.bfloat16 if torch.cuda.get_device_capability() >= (8, 0) else torch.float16

    def left(self) -> float: return self.args.budget - (time.perf_counter() - self.t0)

    def sync(self):
        if self.cuda: torch.cuda.synchronize()

    def free(self):
        gc.collect()
        if self.cuda: torch.cuda.empty_cache()

    def write(self):
        self.res['meta']['elapsed_s'] = round(time.perf_counter() - self.t0, 1)
        self.res['summary'] = summarize(self.res)
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / 'results.json').write_text(json.dumps(clean_json(self.res), indent=1) + '\n')
        (self.out / 'results.md').write_text(render_markdown(self.res))

    def section(self, name: str, fn, need_s: float, share: float):
        "Run fn(run, rec) if about `need_s` seconds are left, for at most `share` of what is left."
        rec = self.res['sections'].setdefault(name, {})
        left = self.left()
        if left < need_s:
            rec.update(status='skipped', reason=f'time budget: {left:.0f} s left, needs about {need_s:.0f} s')
            self.write(); return
        t = time.perf_counter()
        print(f'== {name} ({left:.0f} s of budget left)', flush=True)
        try:
            with time_limit(max(need_s, share * left)): fn(self, rec)
            rec.setdefault('status', 'ok')
        except Exception as e:                     # recorded; the next section runs
            rec.update(status='error', error=f'{type(e).__name__}: {e}'[:2000],
                       traceback=traceback.format_exc()[-4000:])
            print(f'   {rec["error"][:300]}', flush=True)
        finally:
            rec['seconds'] = round(time.perf_counter() - t, 1)
            self.free(); self.write()


def attempt(rec: dict, fn):
    "fn() with its exception recorded in rec['error'] instead of raised (Overrun still stops the section)."
    try: return fn()
    except Overrun: raise
    except Exception as e:
        rec['error'] = f'{type(e).__name__}: {e}'[:1000]
        if isinstance(e, OOM): gc.collect(); torch.cuda.empty_cache()
        return None


def timer(run: Run, fn, rep_ms: int = 100) -> float:
    "Median milliseconds of fn(): triton.testing.do_bench on a GPU (events, L2 flushed), wall clock on a CPU."
    if run.cuda:
        try: from triton.testing import do_bench
        except ImportError: do_bench = None
        if do_bench is not None: return float(do_bench(fn, warmup=25, rep=rep_ms, return_mode='median'))
        fn(); torch.cuda.synchronize()
        times = []
        for _ in range(10):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record(); fn(); b.record(); torch.cuda.synchronize(); times.append(a.elapsed_time(b))
        return sorted(times)[len(times) // 2]
    fn()
    times = []
    for _ in range(3):
        t = time.perf_counter(); fn(); times.append(1e3 * (time.perf_counter() - t))
    return sorted(times)[1]


def first_call(run: Run, fn):
    "(result, seconds) of a first call: compilation and autotuning included."
    t = time.perf_counter(); out = fn(); run.sync()
    return out, time.perf_counter() - t


def flex_attend(run: Run):
    "latent_attention_flex with the tiles that compiled here (None: the compiler's defaults)."
    return functools.partial(latent_attention_flex, kernel_options=run.flex_options)


def flex_first_call(run: Run, row: dict, call):
    "first_call of a FlexAttention call; on a GPU, if the default tiles fail, once more with smaller ones."
    out = attempt(row, lambda: first_call(run, call))
    if out is None and run.cuda and run.flex_options is None:
        row['error_default_tiles'] = row.pop('error')
        row['kernel_options'] = run.flex_options = FLEX_FALLBACK       # used by every later call
        out = attempt(row, lambda: first_call(run, call))
    return out


# ----------------------------------------------------------------------------------------------- 1. env
def sec_env(run: Run, rec: dict):
    "Versions, device, and the two ceilings measured on it: a matmul peak and a copy bandwidth."
    try: import triton; tv = triton.__version__
    except ImportError: tv = None
    git = lambda *a: subprocess.run(['git', *a], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout
    try: commit, dirty = git('rev-parse', 'HEAD').strip() or None, bool(git('status', '--porcelain').strip())
    except Exception: commit = dirty = None
    rec.update(python=platform.python_version(), torch=torch.__version__, triton=tv, cuda=torch.version.cuda,
               has_triton=HAS_TRITON, has_flex=HAS_FLEX, commit=commit, uncommitted_changes=dirty, half=run.half,
               config=dict(n_heads=run.cfg.n_heads, kv_lora_rank=run.cfg.kv_lora_rank,
                           qk_rope_head_dim=run.cfg.qk_rope_head_dim, n_layers=run.cfg.n_layers,
                           tokens_per_frame=run.cfg.tokens_per_frame))
    n, n_bytes = (8192, 2 ** 30) if run.cuda else (256, 2 ** 24)
    if run.cuda:
        p = torch.cuda.get_device_properties(0)
        rec.update(device=p.name, capability=list(torch.cuda.get_device_capability()),
                   sms=p.multi_processor_count, memory_gb=round(p.total_memory / 2 ** 30, 1))
        run.res['meta']['device'] = p.name
    a, b = (torch.randn(n, n, device=run.device).to(run.half) for _ in range(2))    # random, not zeros
    rec['matmul'] = f'{n}^3 {str(run.half)[6:]}'
    rec['matmul_peak_tflops'] = run.peak_tflops = 2 * n ** 3 / timer(run, lambda: a @ b) / 1e9
    x = torch.randn(n_bytes // 4, device=run.device); y = torch.empty_like(x)
    rec['copy_tbs'] = 2 * n_bytes / timer(run, lambda: y.copy_(x)) / 1e9        # bytes read + written


# ----------------------------------------------------------------------------------------------- 2. correctness
LAYOUTS = {  # name: (query frames, key frames, frame-id mask arguments or None)
    'context (sink + window + chunk, no mask)': ([9, 10, 11], [0, 3, 4, 5, 6, 7, 8, 9, 10, 11], None),
    'clip of 10 frames, frame mask (sink 1, window 3)':
        ([6, 7, 8], list(range(10)), dict(frames_per_chunk=3, sink_frames=1, window_frames=3)),
}


def make_problem(cfg: VideoMLAConfig, q_frames: list, k_frames: list, batch: int, dtype, device, seed=0):
    "Random absorbed queries and latent cache for frames q_frames over k_frames; window-relative RoPE."
    P, H, C, R = cfg.tokens_per_frame, cfg.n_heads, cfg.kv_lora_rank, cfg.qk_rope_head_dim
    S, T = len(q_frames) * P, len(k_frames) * P
    g = torch.Generator(device).manual_seed(seed)
    rn = lambda *shape: torch.randn(*shape, generator=g, device=device).to(dtype)
    cos_k, sin_k = rope_cos_sin(video_positions(len(k_frames), *cfg.grid_hw, device=device),
                                shared_rope_freqs(cfg))                          # (T, R/2) slot positions
    frame_ids = lambda f: torch.tensor(f, device=device).repeat_interleave(P)
    return dict(q_lat=rn(batch, S, H, C), q_rope=rn(batch, S, H, R), c_kv=rn(batch, T, C),
                k_rope=rn(batch, T, R), cos_k=cos_k, sin_k=sin_k,
                scale=(cfg.qk_nope_head_dim + R) ** -0.5), frame_ids(q_frames), frame_ids(k_frames)


def reference(p: dict, q_frame, k_frame, mask_kw) -> torch.Tensor:
    "latent_attention_ref in fp32 on upcast inputs, a slice of queries at a time (about 1 GB of scores each)."
    x = {k: p[k].float() for k in ('q_lat', 'q_rope', 'c_kv', 'k_rope')}
    (B, S, H, _), T = x['q_lat'].shape, x['c_kv'].shape[1]
    step, outs = max(1, 2 ** 28 // (B * H * T)), []
    for i in range(0, S, step):
        kw = {} if mask_kw is None else dict(mask_kw, q_frame=q_frame[i:i + step], k_frame=k_frame)
        outs.append(latent_attention_ref(x['q_lat'][:, i:i + step], x['q_rope'][:, i:i + step], x['c_kv'],
                                         x['k_rope'], p['cos_k'], p['sin_k'], p['scale'], **kw))
    return torch.cat(outs, 1)


def compare(out: torch.Tensor, ref: torch.Tensor, dtype) -> dict:
    "Relative Frobenius error, max |error|, finiteness, assert_close at the book's tolerance, pass/fail."
    o = out.float()
    finite = bool(torch.isfinite(o).all())
    rel = ((o - ref).norm() / ref.norm()).item()
    close = bool(torch.allclose(o, ref, **tolerance(dtype)))
    return dict(rel_err=rel, max_abs_err=(o - ref).abs().max().item(), finite=finite,
                allclose_book_tol=close, passed=finite and rel < REL_TOL[dtype])


def poisoned_call(fn, like: torch.Tensor):
    "fn() after a NaN tensor shaped like its output was freed: a reused, unwritten buffer shows up as NaN."
    junk = torch.full_like(like, float('nan')); del junk
    return fn()


def run_impl(run: Run, impl: str, p: dict, qf, kf, mask_kw, ref, dtype) -> dict:
    "One implementation on one problem: its first-call time and its errors against the reference."
    row = dict(impl=impl, dtype=dtype)
    kw = {} if mask_kw is None else dict(mask_kw, q_frame=qf, k_frame=kf)
    if impl == 'triton':
        if not (run.cuda and HAS_TRITON):
            row['skipped'] = 'no CUDA GPU: the Triton kernel is not launched (04_kernel tests it interpreted)'
            return row
        fn = lambda: latent_attention(**p, **kw)
    else:
        fn = lambda: flex_attend(run)(**p, **kw)
    call = lambda: poisoned_call(fn, ref.to(dtype))
    out = (flex_first_call(run, row, call) if impl == 'flex' else attempt(row, lambda: first_call(run, call)))
    if out is not None:
        row['first_call_s'] = out[1]
        row.update(compare(out[0], ref, dtype))
    return row


def sec_correctness(run: Run, rec: dict):
    "Kernel and FlexAttention against the fp32 reference at the Wan chunk, two layouts, two half dtypes."
    dtypes = [run.half, torch.float16] if run.half == torch.bfloat16 else [torch.bfloat16, torch.float16]
    rec.update(rel_tol=REL_TOL, rows=[], note='output buffers poisoned with NaN before each call')
    for layout, (q_frames, k_frames, mask_kw) in LAYOUTS.items():
        batch = 1 if mask_kw is None else 2
        for dtype in dtypes:
            p, qf, kf = make_problem(run.cfg, q_frames, k_frames, batch, dtype, run.device, seed=len(rec['rows']))
            ref = reference(p, qf, kf, mask_kw)
            for impl in ('triton', 'flex'):
                row = run_impl(run, impl, p, qf, kf, mask_kw, ref, dtype)
                rec['rows'].append(dict(layout=layout, batch=batch, S=qf.numel(), T=kf.numel(), **row))
                print(f'   {layout[:24]:24} {str(dtype)[6:]:8} {impl:6} '
                      f'{row.get("rel_err", row.get("skipped", row.get("error")))}', flush=True)
            del p, ref; run.free()
    done = [r for r in rec['rows'] if 'passed' in r]
    rec['all_passed'] = bool(done) and all(r['passed'] for r in done) and not any('error' in r for r in rec['rows'])
    if HAS_TRITON and run.cuda:
        from videomla.kernel import _tuned_kernel
        rec['kernel_config'] = str(getattr(_tuned_kernel(), 'best_config', None))


# ----------------------------------------------------------------------------------------------- 3. attention table
def dense_backend(run: Run):
    "The SDPA backends of the dense rows: FlashAttention where it runs at these head sizes, else the default."
    from torch.nn.attention import SDPBackend, sdpa_kernel
    if not run.cuda: return contextlib.nullcontext(), 'default (CPU)'
    q = torch.randn(1, 12, 64, 128, device='cuda', dtype=run.half)
    try:
        with sdpa_kernel([SDPBackend.FLASH_ATTENTION]):
            torch.nn.functional.scaled_dot_product_attention(q, q, q)
        return sdpa_kernel([SDPBackend.FLASH_ATTENTION]), 'FLASH_ATTENTION'
    except RuntimeError: return contextlib.nullcontext(), 'default (no FlashAttention here)'


def attention_paths(run: Run, inp: dict) -> dict:
    "04_kernel's five paths, FlexAttention with the tiles that compiled here."
    paths = bench_paths(inp)
    lat = [inp[k] for k in 'q_nope q_rope c_kv k_rope cos_k sin_k w_uk w_uv scale'.split()]
    paths['absorbed_flex'] = lambda: absorbed_attention(*lat, attend=flex_attend(run))
    return paths


def attention_table(run: Run, rec: dict, n_q: int, n_k: int):
    "Time every path at one shape: ms, TFLOP/s, % of the measured peak, x dense, error vs the torch path."
    backend, rec['sdpa_backend'] = dense_backend(run)
    rec.update(n_queries=n_q, n_keys=n_k, dtype=run.half, peak_tflops=run.peak_tflops, rows=[])
    costs = attention_costs(run.cfg, n_q, n_k, dtype=run.half)
    inp = bench_inputs(run.cfg, n_q, n_k, dtype=run.half, device=run.device)
    outs = {}
    with torch.no_grad(), backend:
        for path, fn in attention_paths(run, inp).items():
            row = dict(path=path, label=PATH_LABELS[path])
            rec['rows'].append(row)
            if path == 'absorbed_kernel' and not (run.cuda and HAS_TRITON):
                row['skipped'] = 'no CUDA GPU: on a CPU this call would run the reference'; continue
            res = (flex_first_call(run, row, fn) if path == 'absorbed_flex'
                   else attempt(row, lambda: first_call(run, fn)))
            if res is None: continue
            outs[path], row['first_call_s'] = res
            ms = attempt(row, lambda: timer(run, fn))
            if ms is None: continue
            tflops = costs[path]['flops'] / ms / 1e9
            row.update(ms=ms, tflops=tflops, cache_mb=costs[path]['cache_bytes'] / 1e6,
                       pct_peak=100 * tflops / run.peak_tflops if run.peak_tflops else None)
            print(f'   {path:18} {ms:9.3f} ms {tflops:8.1f} TFLOP/s', flush=True)
    dense_ms = rec['rows'][0].get('ms')
    ref = outs.get('absorbed_torch')
    for row in rec['rows']:
        if dense_ms and row.get('ms'): row['vs_dense'] = row['ms'] / dense_ms
        if ref is not None and row['path'] in outs and row['path'] != 'dense_sdpa':
            o = outs[row['path']].float()
            row['rel_err_vs_torch'] = ((o - ref.float()).norm() / ref.float().norm()).item()
    if HAS_TRITON and run.cuda:
        from videomla.kernel import _tuned_kernel
        rec['kernel_config'] = str(getattr(_tuned_kernel(), 'best_config', None))


def sec_attention(run: Run, rec: dict):
    "The Wan chunk: 3 frames of queries against 1 sink + 6 window + 3 chunk frames, plus the flex mask cost."
    c, P = run.cfg, run.cfg.tokens_per_frame
    n_ctx = c.sink_frames + c.window_frames + c.frames_per_chunk
    attention_table(run, rec, c.frames_per_chunk * P, n_ctx * P)
    q_frames, k_frames, mask_kw = LAYOUTS['clip of 10 frames, frame mask (sink 1, window 3)']
    _, qf, kf = make_problem(c, q_frames, k_frames, 1, run.half, run.device)
    build = lambda: flex_block_mask(c.n_heads, qf.numel(), kf.numel(), qf, kf, **mask_kw)
    mask_row = dict()
    if attempt(mask_row, lambda: first_call(run, build)) is not None:
        rec['flex_block_mask_ms'] = attempt(mask_row, lambda: timer(run, build, rep_ms=50))
    rec.update({f'flex_block_mask_{k}': v for k, v in mask_row.items()})


def sec_frame_shape(run: Run, rec: dict):
    "The attention table at one latent frame of queries (decode-like), same context."
    c, P = run.cfg, run.cfg.tokens_per_frame
    attention_table(run, rec, P, (c.sink_frames + c.window_frames + c.frames_per_chunk) * P)


# ----------------------------------------------------------------------------------------------- 4. split
N_CHUNKS, PASSES = 7, len(DEFAULT_STEPS) + 1            # 4 denoising passes + the clean pass per chunk


def ways(cfg: VideoMLAConfig) -> dict:
    "The three rollouts: dense growing to 21 frames (Self-Forcing), dense capped, VideoMLA capped."
    grow = cfg.replace(attention='dense', sink_frames=0,
                       window_frames=N_CHUNKS * cfg.frames_per_chunk - cfg.frames_per_chunk)
    return {'dense, growing to 21 frames': grow, 'dense, sink + window cap': cfg.replace(attention='dense'),
            'VideoMLA, sink + window cap': cfg.replace(attention='mla')}


def schedule(cfg: VideoMLAConfig) -> list:
    "Context frames of each of the 7 chunks under cfg's sink and window."
    return [len(context_frames(cfg, k * cfg.frames_per_chunk)) for k in range(N_CHUNKS)]


def call_ms(run: Run, path: str, n_frames: int, memo: dict, errors: dict) -> float | None:
    "Milliseconds of one attention call of `path` for a chunk over n_frames of context (memoised)."
    key = (path, n_frames)
    if key not in memo:
        c, P = run.cfg, run.cfg.tokens_per_frame
        inp = bench_inputs(c, c.frames_per_chunk * P, n_frames * P, dtype=run.half, device=run.device)
        fn, row = attention_paths(run, inp)[path], {}
        with torch.no_grad():
            memo[key] = attempt(row, lambda: (first_call(run, fn), timer(run, fn, rep_ms=50))[1])
        if 'error' in row: errors[f'{path} at {n_frames} frames'] = row['error']
        del inp
    return memo[key]


def attention_split(run: Run, rec: dict):
    "Attention time of a 7-chunk rollout, three ways, from per-call timings x layers x passes."
    L, memo, rec['errors'] = run.cfg.n_layers, {}, {}
    ms = lambda path, n_frames: call_ms(run, path, n_frames, memo, rec['errors'])
    mla_paths = ['decompressed_sdpa'] + (['absorbed_kernel'] if run.cuda and HAS_TRITON else [])
    growing, capped = (schedule(c) for c in list(ways(run.cfg).values())[:2])
    rows, totals = [], {}
    backend, rec['sdpa_backend'] = dense_backend(run)
    with backend:
        for k, (grow, cap) in enumerate(zip(growing, capped)):
            row = dict(chunk=k, frames_growing=grow, frames_capped=cap,
                       dense_growing_ms=ms('dense_sdpa', grow), dense_capped_ms=ms('dense_sdpa', cap))
            mla = {p: ms(p, cap) for p in mla_paths}
            best = min((p for p in mla if mla[p] is not None), key=lambda p: mla[p], default=None)
            row.update({f'{p}_ms': v for p, v in mla.items()}, videomla_capped_ms=mla.get(best),
                       videomla_path=best)
            rows.append(row)
    for col in ('dense_growing_ms', 'dense_capped_ms', 'videomla_capped_ms'):
        vals = [r[col] for r in rows]
        totals[col[:-3] + '_s'] = None if None in vals else sum(vals) * L * PASSES / 1e3
    g, c, m = (totals[k] for k in ('dense_growing_s', 'dense_capped_s', 'videomla_capped_s'))
    if None not in (g, c, m):
        totals.update(window_saves_s=g - c, latent_saves_s=c - m)
        if g >= c >= m and g > m: totals.update(window_share=(g - c) / (g - m), latent_share=(c - m) / (g - m))
    rec.update(layers=L, passes_per_chunk=PASSES, rows=rows, totals=totals,
               note='per-call medians x layers x passes; FlexAttention is left out here (one compile per shape)')


def build_model(run: Run, cfg: VideoMLAConfig) -> CausalVideoDiT:
    "A randomly initialised model, made on the device, in the run's half dtype, for timing only."
    with torch.device(run.device): model = CausalVideoDiT(cfg)
    return model.to(run.half).eval()


def model_rollout(run: Run, cfg: VideoMLAConfig, batch: int = 1) -> dict:
    "One 7-chunk rollout after a 1-chunk warm-up: seconds, fps, peak memory, cache size."
    model = build_model(run, cfg)
    cond = (torch.randn(batch, 512, cfg.cond_dim, device=run.device, dtype=run.half) if cfg.cond_dim else None)
    n_lat = N_CHUNKS * cfg.frames_per_chunk
    for _ in rollout(model, cfg.frames_per_chunk, batch, cond=cond, progress=False): pass      # warm-up
    cache = model.new_cache(batch)
    run.sync()
    if run.cuda: torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    for _ in rollout(model, n_lat, batch, cond=cond, cache=cache, progress=False): pass
    run.sync()
    s = time.perf_counter() - t
    px = 1 + (n_lat - 1) * cfg.vae_stride_t                              # pixel frames the VAE would decode
    out = dict(seconds=s, latent_frames=n_lat, pixel_frames=px, fps=batch * px / s,
               cache_gb=cache.nbytes() / 2 ** 30,
               weights_gb=sum(p.numel() * p.element_size() for p in model.parameters()) / 2 ** 30,
               peak_gb=torch.cuda.max_memory_allocated() / 2 ** 30 if run.cuda else None)
    del model, cache, cond; run.free()
    return out


def sec_split(run: Run, rec: dict):
    "Where a 7-chunk rollout's time goes: attention alone, then the whole model at the recorded depth."
    rec['attention_only'] = a = {}
    attempt(a, lambda: attention_split(run, a))
    depth = run.cfg.n_layers if (run.smoke or run.left() > 200 or run.args.layers) else max(2, run.cfg.n_layers // 3)
    rec['model'] = m = dict(layers=depth, batch=1, rows=[],
                            note='DiT only (no VAE decode, no text encoder), random weights, '
                                 f'{PASSES} passes per chunk; both caches keep keys unrotated, so dense '
                                 'rotates its whole context every pass (Self-Forcing caches them rotated)')
    for name, cfg in ways(run.cfg.replace(n_layers=depth)).items():
        row = dict(way=name, context_frames=schedule(cfg))
        m['rows'].append(row)
        res = attempt(row, lambda: model_rollout(run, cfg))
        if res: row.update(res)
        print(f'   {name:30} {row.get("seconds", row.get("error"))}', flush=True)
        run.write()
    s = {r['way']: r.get('seconds') for r in m['rows']}
    g, c, v = s.values()
    if None not in (g, c, v):
        m.update(window_saves_s=g - c, latent_saves_s=c - v, speedup_total=g / v)


# ----------------------------------------------------------------------------------------------- 5. rollout table
def _forward_peak(run: Run, model: CausalVideoDiT, batch: int) -> tuple:
    "(peak GB, seconds) of one denoising pass of a chunk at `batch` over a full sink + window context."
    c, half = model.cfg, run.half
    torch.cuda.reset_peak_memory_stats()
    cache = model.new_cache(batch)
    names = ('c_kv', 'k_rope') if c.attention == 'mla' else ('k', 'v')
    T = c.frames_per_chunk * c.tokens_per_frame
    fill = [torch.randn(batch, T, *getattr(cache, n).shape[3:], device=run.device, dtype=half)
            for n in names]
    for _ in range(-(-(c.sink_frames + c.window_frames) // c.frames_per_chunk)):   # whole chunks
        cache.begin_chunk()
        for layer in range(c.n_layers): cache.write(layer, *fill)
        cache.commit()
    del fill
    cond = torch.randn(batch, 512, c.cond_dim, device=run.device, dtype=half) if c.cond_dim else None
    x = torch.randn(batch, c.frames_per_chunk, c.in_channels, c.latent_height, c.latent_width,
                    device=run.device, dtype=half)
    with torch.no_grad():
        cross = model.encode_condition(cond)
        cache.begin_chunk(); torch.cuda.synchronize(); t = time.perf_counter()
        model.forward_chunk(x, 1000.0, cache, cross)
        torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() / 2 ** 30, time.perf_counter() - t


def forward_peak(run: Run, model: CausalVideoDiT, batch: int) -> tuple | None:
    "_forward_peak, or None when it runs out of memory; everything it allocated is freed after."
    try: res = _forward_peak(run, model, batch)
    except OOM: res = None
    run.free()          # subtle: after the except clause, so no traceback holds the probe's tensors
    return res


def largest_batch(run: Run, model: CausalVideoDiT, row: dict):
    "Fit peak memory = a + b * batch at batch 1 and 4, predict the largest batch, confirm it with one pass."
    (p1, t1), (p4, _) = forward_peak(run, model, 1), forward_peak(run, model, 4)
    free, total = torch.cuda.mem_get_info()
    usable = (free + torch.cuda.memory_reserved()) / 2 ** 30 * 0.97
    per_video = (p4 - p1) / 3
    fixed = p1 - per_video
    est = max(1, int((usable - fixed) / per_video)) if per_video > 0 else None
    row.update(per_video_gb=per_video, fixed_gb=fixed, usable_gb=usable, largest_batch_est=est,
               forward_s_batch1=t1)
    px = 1 + (N_CHUNKS * model.cfg.frames_per_chunk - 1) * model.cfg.vae_stride_t
    for b in ([est, int(est * 0.9)] if est else []):
        if b * t1 * 2 > run.left() - 60:
            row['largest_batch_check'] = f'not run: a pass at batch {b} needs about {b * t1:.0f} s'; return
        res = forward_peak(run, model, b)
        if res is None:
            row['largest_batch_check'] = f'batch {b}: out of memory'; continue
        row.update(largest_batch_ran=b, peak_gb_at_largest=res[0], forward_s_at_largest=res[1],
                   fps_at_largest_est=b * px / (res[1] * N_CHUNKS * PASSES))
        row['largest_batch_check'] = f'batch {b} ran' + (' (the prediction ran out of memory)' if b != est
                                                         else '')
        return


def sec_rollout(run: Run, rec: dict):
    "Dense vs VideoMLA at Wan size: fps and peak memory (from the split), cache size, largest batch."
    split = run.res['sections'].get('split', {}).get('model', {})
    depth = split.get('layers') or run.cfg.n_layers                  # the split's depth, if it ran
    rec['rows'] = []
    for name, cfg in ways(run.cfg.replace(n_layers=depth)).items():
        row = dict(way=name, layers=depth)
        rec['rows'].append(row)
        prev = next((r for r in split.get('rows', []) if r['way'] == name), {})
        row.update({k: prev.get(k) for k in ('fps', 'peak_gb', 'cache_gb', 'seconds')})
        if not run.cuda:
            row['largest_batch_check'] = 'skipped: needs CUDA memory statistics'; continue
        if prev.get('fps') is None:
            res = attempt(row, lambda: model_rollout(run, cfg))
            if res: row.update(res)
        model = attempt(row, lambda: build_model(run, cfg))
        if model is not None: attempt(row, lambda: largest_batch(run, model, row))
        del model; run.free(); run.write()
    rec['note'] = ('largest batch: peak memory of one denoising pass over a full sink + window context at batch '
                   '1 and 4, fitted linearly; then one pass at the prediction (at 90% of it if that runs out of '
                   'memory). fps: batch-1 rollout of 21 latent frames (81 video frames), DiT only')


# ----------------------------------------------------------------------------------------------- report
def summarize(res: dict) -> dict:
    "The headline numbers of whatever ran: correctness, the chunk's fastest paths, the split, the batch ratio."
    sec, out = res['sections'], {}
    get = lambda name: sec.get(name, {}) if sec.get(name, {}).get('status') == 'ok' else {}
    if get('correctness'): out['correctness_all_passed'] = get('correctness').get('all_passed')
    rows = {r['path']: r for r in get('attention').get('rows', []) if r.get('ms') is not None}
    if rows:
        out.update({f'chunk_ms_{p}': r['ms'] for p, r in rows.items()})
        out.update({f'chunk_pct_peak_{p}': r.get('pct_peak') for p, r in rows.items() if p.startswith('absorbed')})
        mla = [p for p in rows if p != 'dense_sdpa']
        if mla and 'dense_sdpa' in rows:
            best = min(mla, key=lambda p: rows[p]['ms'])
            out.update(chunk_fastest_videomla=best, chunk_fastest_vs_dense=rows[best]['ms'] / rows['dense_sdpa']['ms'])
    split = get('split')
    for part in ('attention_only', 'model'):
        d = split.get(part, {})
        d = d.get('totals', d)
        out.update({f'{part}_{k}': d.get(k) for k in ('window_saves_s', 'latent_saves_s') if d.get(k) is not None})
    ro = {r['way']: r for r in get('rollout').get('rows', [])}
    dense, mla = ro.get('dense, sink + window cap', {}), ro.get('VideoMLA, sink + window cap', {})
    for k in ('fps', 'largest_batch_ran', 'cache_gb'):
        if dense.get(k) and mla.get(k): out[f'videomla_over_dense_{k}'] = mla[k] / dense[k]
    return out


def md_table(rows: list, cols: list) -> str:
    "A Markdown table of dicts: numbers to 3 significant digits, missing values empty."
    fmt = lambda v: '' if v is None else (f'{v:.3g}' if isinstance(v, float) else str(v).replace('|', '/'))
    lines = ['| ' + ' | '.join(cols) + ' |', '|' + '---|' * len(cols)]
    return '\n'.join(lines + ['| ' + ' | '.join(fmt(r.get(c)) for c in cols) + ' |' for r in rows])


def render_markdown(res: dict) -> str:
    "results.md: the run's header, then each section's status and tables."
    res = clean_json(res)
    m, out = res['meta'], [f"# VideoMLA GPU benchmark ({res['meta']['mode']})", '']
    out += [' · '.join(f'{k}: {v}' for k, v in m.items()), '']
    if res.get('summary'):
        out += ['## summary', '', md_table([dict(number=k, value=v) for k, v in res['summary'].items()],
                                           ['number', 'value']), '']
    tables = {'correctness': ['layout', 'dtype', 'impl', 'batch', 'rel_err', 'max_abs_err', 'passed',
                              'first_call_s', 'skipped', 'error'],
              'attention': ['label', 'ms', 'tflops', 'pct_peak', 'vs_dense', 'rel_err_vs_torch', 'first_call_s',
                            'skipped', 'error'],
              'rollout': ['way', 'layers', 'fps', 'peak_gb', 'cache_gb', 'per_video_gb', 'largest_batch_est',
                          'largest_batch_ran', 'fps_at_largest_est', 'largest_batch_check', 'error']}
    tables['frame_shape'] = tables['attention']
    for name, sec in res['sections'].items():
        out += [f'## {name}', '', f"status: {sec.get('status')} · {sec.get('seconds')} s"
                + (f" · {sec.get('reason') or sec.get('error')}" if sec.get('status') != 'ok' else ''), '']
        scalars = {k: v for k, v in sec.items() if not isinstance(v, (dict, list))
                   and k not in ('status', 'seconds', 'traceback', 'error', 'reason')}
        if scalars: out += [' · '.join(f'{k}: {v:.4g}' if isinstance(v, float) else f'{k}: {v}'
                                       for k, v in scalars.items()), '']
        if name in tables and sec.get('rows'): out += [md_table(sec['rows'], tables[name]), '']
        if name == 'split':
            a, mo = sec.get('attention_only', {}), sec.get('model', {})
            if a.get('rows'):
                out += [f"Attention alone, {a.get('layers')} layers x {a.get('passes_per_chunk')} passes:", '',
                        md_table(a['rows'], ['chunk', 'frames_growing', 'frames_capped', 'dense_growing_ms',
                                             'dense_capped_ms', 'videomla_capped_ms', 'videomla_path']), '',
                        md_table([a.get('totals', {})], list(a.get('totals', {}))), '']
            if a.get('error'): out += [f"attention alone: {a['error']}", '']
            if mo.get('rows'):
                out += [f"Whole model, {mo.get('layers')} layers, batch 1 ({mo.get('note')}):", '',
                        md_table(mo['rows'], ['way', 'seconds', 'fps', 'peak_gb', 'cache_gb', 'error']), '']
                extra = {k: mo.get(k) for k in ('window_saves_s', 'latent_saves_s', 'speedup_total')}
                if any(v is not None for v in extra.values()): out += [md_table([extra], list(extra)), '']
    return '\n'.join(out) + '\n'


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--smoke', action='store_true', help='tiny sizes on the CPU, in seconds (same code)')
    ap.add_argument('--out', default=str(ROOT / 'bench' / 'results'), help='folder for results.json and .md')
    ap.add_argument('--budget', type=float, default=None, help='seconds for the whole run (default 450; smoke 120)')
    ap.add_argument('--layers', type=int, default=None, help='model depth for the rollouts (default: 30)')
    args = ap.parse_args(argv)
    args.budget = args.budget or (120.0 if args.smoke else 450.0)
    torch.manual_seed(0)
    if args.smoke: torch.set_num_threads(1)       # tiny sizes: one thread is faster and steadier
    try:   # room for the few shapes and dtypes FlexAttention is compiled for
        dynamo_config = __import__('torch._dynamo', fromlist=['config']).config
        dynamo_config.cache_size_limit = max(dynamo_config.cache_size_limit, 64)
    except Exception: pass
    run = Run(args)
    if not run.cuda and not args.smoke:
        run.res['meta']['error'] = 'no CUDA GPU: the full run needs one; --smoke runs tiny sizes on a CPU'
        run.write(); print(run.res['meta']['error']); return 2
    # name, function, seconds it needs at least, share of the remaining budget it may use
    for name, fn, need, share in (('env', sec_env, 5, 0.1), ('correctness', sec_correctness, 30, 0.45),
                                  ('attention', sec_attention, 20, 0.4), ('split', sec_split, 30, 0.6),
                                  ('rollout', sec_rollout, 30, 0.9), ('frame_shape', sec_frame_shape, 40, 0.9)):
        run.section(name, fn, need_s=need if not args.smoke else 0, share=share)
    run.write()
    failed = [n for n, s in run.res['sections'].items() if s.get('status') == 'error']
    print(f"wrote {run.out / 'results.json'} and results.md in {time.perf_counter() - run.t0:.1f} s"
          + (f'; sections with errors: {failed}' if failed else ''))
    print(render_markdown(run.res)[-6000:])
    return 0


if __name__ == '__main__':
    sys.exit(main())
