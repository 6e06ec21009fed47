"""Teacher forcing with the model's own one-pass estimates as context (09_train, round 8).

Each context chunk is, with probability P, replaced by the model's x0 estimate of that chunk from the truth noised
to level SIGMA (0.625 is the shipped sampler's last level), given the true past, then committed at 0.05 as a
rollout commits; the target stays the true clip. Everything else is `videomla train` with its own options:

  python own_estimate.py P SIGMA -- <videomla train arguments>

Round 8's run: python own_estimate.py 0.5 0.625 -- --stage dense --init videomla/checkpoints/dense.safetensors
  --steps 600 --lr 2e-4 --context-noise 0.3 --fade-p 0.75 --fade-min 0.3 --blur-p 0.3 --ema 0.99 --seed 90
  --threads 1 --interval 50 --out own-est.train.safetensors --export own-est.safetensors
(That run used this script before its draws were seeded from the step's noise, so it does not repeat bit for bit.)"""
import sys, torch
import videomla.train as T
from videomla.cli import main
from videomla.rollout import renoise

P, SIGMA = float(sys.argv[1]), float(sys.argv[2])
assert sys.argv[3] == '--' and 0 <= P <= 1 and 0 < SIGMA < 1, __doc__
library_loss = T.tf_loss

def own_estimate_loss(model, x0, sigma, eps, ctx=None, t_ctx=None, cond=None):
    "tf_loss on a context whose chosen chunks are the model's own one-pass estimates."
    ctx = x0 if ctx is None else ctx
    B, F = x0.shape[:2]; Fc = model.cfg.frames_per_chunk
    t_ctx = torch.zeros(B, F, dtype=torch.float64) if t_ctx is None else t_ctx
    if not torch.is_tensor(t_ctx): t_ctx = torch.full((B, F), float(t_ctx), dtype=torch.float64)
    # the step's own draws seed this one's (train draws eps from (seed, step)): resumable, repeatable
    g = torch.Generator().manual_seed(int(eps.double().abs().sum().item() * 1e6) % 2**62)
    rn = lambda t: torch.randn(t.shape, generator=g, dtype=t.dtype).to(t.device)
    with torch.no_grad():
        xt = renoise(ctx, rn(ctx), SIGMA)                                       # (B, F, C, H, W)
        s = torch.full((B, F), SIGMA, dtype=torch.float64)
        est = xt - SIGMA * T.teacher_forcing_forward(model, ctx, xt, 1000 * s, cond, t_context=t_ctx)
        pick = (torch.rand(B, F // Fc, generator=g) < P).repeat_interleave(Fc, 1)             # (B, F)
        est = renoise(est, rn(est), 0.05)                          # committed at 0.05
        new = torch.where(pick[..., None, None, None], est, ctx)
        t_new = torch.where(pick, torch.full_like(t_ctx, 50.0), t_ctx)
    return library_loss(model, x0, sigma, eps, new, t_new, cond)

T.tf_loss = own_estimate_loss
sys.exit(main(['train', *sys.argv[4:]]))
