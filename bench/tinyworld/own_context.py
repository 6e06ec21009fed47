"09_train round 7: teacher forcing whose context chunks are, with prob. p, the model's own one-chunk-ahead samples."
import argparse, json, os, time, copy, torch
from videomla.checkpoint import load_checkpoint, save_checkpoint, _load_into
from videomla.rollout import denoising_timesteps, predict_x0, renoise, DEFAULT_STEPS
from videomla.train import (teacher_forcing_forward, step_batch, tf_loss, Degrade, lr_at, train_step,
                            StepLoss)
ap = argparse.ArgumentParser()
ap.add_argument('init'); ap.add_argument('out'); ap.add_argument('--steps', type=int, default=400)
ap.add_argument('--lr', type=float, default=1e-4); ap.add_argument('--seed', type=int, default=70)
ap.add_argument('--p-own', type=float, default=0.5); ap.add_argument('--depth2', type=float, default=0.5)
ap.add_argument('--ema', type=float, default=0.99); ap.add_argument('--interval', type=int, default=25)
ap.add_argument('--drift', type=int, default=1)
a = ap.parse_args()
torch.set_num_threads(1)
model = load_checkpoint(a.init); model.context_sigma = 0.05
avg = copy.deepcopy(model).eval()
opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.999), weight_decay=0.0)
deg = Degrade(fade_min=0.3, fade_p=0.75, blur_p=0.3, drift_p=0.5 if a.drift else 0.0,
              drift_objects=False)
train_path, step, hist = a.out.replace('.safetensors', '.train.safetensors'), 0, []
if os.path.exists(train_path):
    st = _load_into(model, train_path, opt, avg); step, hist = st['step'], st['history']
TS = denoising_timesteps(DEFAULT_STEPS, 5.0).tolist(); Fc = model.cfg.frames_per_chunk

@torch.no_grad()
def tf_sample(m, ctx, t_ctx, g):
    "Every chunk of the clip sampled by the 4-step sampler from ctx's past (chunk 0: from nothing)."
    x = torch.randn(ctx.shape, generator=g)
    for k, t in enumerate(TS):
        x0 = predict_x0(x, teacher_forcing_forward(m, ctx, x, t, t_context=t_ctx), t / 1000)
        if k + 1 < len(TS): x = renoise(x0, torch.randn(ctx.shape, generator=g), TS[k + 1] / 1000)
    return x0

t0, losses = time.perf_counter(), []
while step < a.steps:
    x0, sigma, eps, ctx, t_ctx = step_batch(model.cfg, step, a.seed, 4, 12, 5.0, 0.3, deg)
    g = torch.Generator().manual_seed(10_000_019 * a.seed + step)
    B, F = x0.shape[:2]; n = F // Fc
    s = tf_sample(avg, x0, 0.0, g)                                    # from the true past
    deep = torch.rand(B, generator=g) < a.depth2
    if deep.any():                                                    # from its own past, 2 deep
        c1 = torch.cat([x0[:, :Fc], s[:, Fc:]], 1)
        s2 = tf_sample(avg, renoise(c1, torch.randn(c1.shape, generator=g), 0.05), 50.0, g)
        s = torch.where(deep[:, None, None, None, None], s2, s)
    own = torch.rand(B, n, generator=g) < a.p_own; own[:, 0] = False
    own = own.repeat_interleave(Fc, 1)                                # (B, F)
    sn = renoise(s, torch.randn(s.shape, generator=g), 0.05)
    t_ctx = t_ctx if torch.is_tensor(t_ctx) else torch.zeros(B, F, dtype=torch.float64)
    ctx = torch.where(own[..., None, None, None], sn, ctx)
    t_ctx = torch.where(own, torch.full_like(t_ctx, 50.0), t_ctx)
    for gr in opt.param_groups: gr['lr'] = lr_at(step, a.lr, a.steps, 20, 0.1)
    model.train()
    loss = train_step(StepLoss(model, tf_loss), opt, (x0, sigma, eps, ctx, t_ctx), 1.0)
    with torch.no_grad():
        for pa, pm in zip(avg.parameters(), model.parameters()): pa.lerp_(pm, 1 - a.ema)
    losses.append(loss); step += 1
    if step % a.interval == 0 or step == a.steps:
        hist.append(dict(step=step, loss=sum(losses) / len(losses), s=time.perf_counter() - t0))
        losses = []
        save_checkpoint(model, train_path, optimizer=opt, ema=avg, step=step, history=hist, args=vars(a))
        save_checkpoint(avg, a.out, dtype=torch.float16, step=step, history=hist, args=vars(a))
        print(json.dumps(hist[-1]), flush=True)
