"""videomla: multi-head latent attention (VideoMLA) for autoregressive, chunk-by-chunk video diffusion.

Modules, in reading order (each is exported from the notebook of the same name in nbs/):

- `videomla.config`   -- VideoMLAConfig, presets, and the KV-cache arithmetic
- `videomla.spectral` -- spectra, energy and effective rank of attention operators
- `videomla.weights`  -- safetensors reading and writing, and Wan2.1's self-attention weights
- `videomla.mla`      -- DenseAttention and LatentAttention (naive and absorbed), conversion from dense
- `videomla.rope`     -- Wan's 3D-RoPE and VideoMLA's decoupled, window-relative variant
- `videomla.kernel`   -- the fused latent-attention kernel (Triton, imported only there) and its dispatcher
- `videomla.cache`    -- the preallocated sink + window latent and dense KV caches
- `videomla.model`    -- CausalVideoDiT, Wan-style, with dense or latent self-attention
- `videomla.checkpoint` -- safetensors checkpoints, the shipped models, device and output checks
- `videomla.rollout`  -- chunk-by-chunk few-step sampling with the cache (Self-Forcing schedule)
- `videomla.data`     -- the tiny world: procedurally generated videos with ground truth
- `videomla.train`    -- teacher forcing against drift, self-forcing (DMD), MLA conversion
- `videomla.evaluate` -- long-horizon quality metrics measured against the tiny world's ground truth
- `videomla.demo`     -- a streaming GIF writer and `videomla demo`
- `videomla.convert`  -- `videomla convert`: Wan2.1 checkpoints to VideoMLA, streamed, with a spectral report
- `videomla.distributed` -- FSDP2 training (torchrun, gloo or NCCL) and the memory per GPU
- `videomla.cli`      -- the `videomla` console command
- `videomla.figures`  -- the book's figure and table style (matplotlib imported only when used)

`import videomla` is light: it imports only the config; import the other modules by name.
"""
__version__ = "0.1.0"

from .config import VideoMLAConfig, kv_cache_bytes, kv_scalars_per_token
