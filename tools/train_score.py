#!/usr/bin/python3
"""train_score.py — trains the Fashion-MNIST score model (docs/score-model-format.md) by denoising score matching
for the VE SDE and exports it as models/fashion-mnist.safetensors (+ models/README.md).

    /usr/bin/python3 tools/train_score.py [--epochs 40] [--time-limit MINUTES] [--device auto|cpu|cuda] ...

Objective (data units: pixels/255 in [0, 1]; the network sees u = 2x − 1, σ_u = 2σ):
    σ ~ log-uniform[sigma_min, sigma_max],  z ~ N(0, I),  ũ = u + σ_u z
    loss = E ‖σ_u s_θ(ũ, σ_u) + z‖² / (H·W)      (λ(σ) = σ² weighting; σ_u s_θ is the network output `out`)
Adam (lr 2e-4, linear warm-up), gradient-norm clipping 1.0, EMA of the weights (0.999) exported.
Reproducible: fixed seeds, a per-epoch permutation from (seed, epoch), noise from a generator whose state is
checkpointed. Checkpoints go to --ckpt every --ckpt-every minutes and at every epoch end; a run started with the
same command resumes from it. --time-limit bounds this invocation's wall time (checkpoint + export at the end,
marked "complete": false when epochs remain; run the same command again to continue).
Works on Debian's PyTorch 1.13 (CPU) and newer CUDA builds (no torch.compile or post-1.13 features).
"""
import argparse
import gzip
import json
import math
import os
import platform
import shlex
import struct
import subprocess
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from scoremodel import ScoreUNet, count_parameters, fmt_num, load_model, save_model  # noqa: E402

ROOT = os.path.normpath(os.path.join(HERE, ".."))
DATA_DIR = "/usr/share/datasets/fashion-mnist"


def load_idx_images(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, n, h, w = struct.unpack(">IIII", raw[:16])
    if magic != 2051:
        raise ValueError("%s: not an idx3 image file (magic %d)" % (path, magic))
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, h, w)


def max_pairwise_distance(x, device, chunk=4096):
    """Largest Euclidean distance between two images of x [N, D] (float32, data units), exactly, in chunks."""
    x = x.to(device)
    n2 = (x.double() ** 2).sum(1).float()
    best = 0.0
    for i in range(0, x.shape[0], chunk):
        a = x[i:i + chunk]
        for j in range(i, x.shape[0], chunk):
            b = x[j:j + chunk]
            d2 = n2[i:i + chunk, None] + n2[None, j:j + chunk] - 2.0 * (a @ b.T)
            best = max(best, float(d2.max()))
    return math.sqrt(max(best, 0.0))


def machine_description(device):
    cpu = platform.processor() or platform.machine()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        info = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        cpu = "%s, %s CPUs" % (info.get("Model name", cpu).strip(), info.get("CPU(s)", "?").strip())
        if info.get("Hypervisor vendor"):
            cpu += " (%s guest)" % info["Hypervisor vendor"].strip()
    except (OSError, subprocess.SubprocessError, ValueError):
        pass
    d = "%s; %s; Python %s" % (cpu, platform.platform(), platform.python_version())
    if device.type == "cuda":
        d = "GPU %s; " % torch.cuda.get_device_name(device) + d
    return d


def json_num(v):
    return int(v) if float(v).is_integer() else float(v)


def lr_at(step, a):
    return a.lr * min(1.0, (step + 1) / a.warmup) if a.warmup > 0 else a.lr


def init_for_training(model, seed):
    """PyTorch's default init, then the last conv of every residual branch, the attention projection and the
    output conv set to zero (DDPM's init_scale 0): each block starts as its skip path. W ~ N(0, scale²)."""
    g = torch.Generator().manual_seed(seed + 1)
    model.init_weights(generator=g)
    with torch.no_grad():
        for name, mod in model.named_modules():
            if name.endswith("conv2") or name.endswith("attn.proj") or name == "out_conv":
                mod.weight.zero_()
                mod.bias.zero_()


@torch.no_grad()
def eval_losses(model, x, sigmas, seed, device, bs=256):
    """Mean DSM loss of `model` on images x (data units) at each fixed σ, with fixed noise."""
    g = torch.Generator().manual_seed(seed)
    res = []
    for s in sigmas:
        tot = 0.0
        for i in range(0, x.shape[0], bs):
            xb = x[i:i + bs].to(device)
            z = torch.randn(xb.shape, generator=g).to(device)
            su = torch.full((xb.shape[0],), 2.0 * s, device=device)
            out = model(2.0 * xb - 1.0 + su[:, None, None, None] * z, su)
            tot += float(((out + z) ** 2).mean(dim=(1, 2, 3)).sum())
        res.append(tot / x.shape[0])
    return res


def write_pgm_grid(path, imgs, cols=8):
    """imgs [N,H,W] in data units -> a binary PGM grid (clipped to [0,1]), no dependencies."""
    imgs = np.clip(np.asarray(imgs), 0.0, 1.0)
    n, h, w = imgs.shape
    rows = (n + cols - 1) // cols
    grid = np.ones((rows * (h + 1) + 1, cols * (w + 1) + 1))
    for k in range(n):
        r, c = divmod(k, cols)
        grid[1 + r * (h + 1):1 + r * (h + 1) + h, 1 + c * (w + 1):1 + c * (w + 1) + w] = imgs[k]
    with open(path, "wb") as f:
        f.write(b"P5\n%d %d\n255\n" % (grid.shape[1], grid.shape[0]))
        f.write((grid * 255 + 0.5).astype(np.uint8).tobytes())


ARCH_KEYS = ("channels", "attention", "groups", "embed_dim", "fourier_features", "fourier_scale", "sigma_min",
             "sigma_max", "seed", "batch_size", "lr", "warmup", "ema", "grad_clip")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default=DATA_DIR)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--warmup", type=int, default=1000, help="linear learning-rate warm-up, steps")
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--grad-clip", type=float, default=1.0)
    ap.add_argument("--channels", default="32,64,128")
    ap.add_argument("--attention", type=int, default=1)
    ap.add_argument("--groups", type=int, default=8)
    ap.add_argument("--embed-dim", type=int, default=128)
    ap.add_argument("--fourier-features", type=int, default=16)
    ap.add_argument("--fourier-scale", type=float, default=1.0, help="std of the fixed frequencies W")
    ap.add_argument("--sigma-min", type=float, default=0.01)
    ap.add_argument("--sigma-max", type=float, default=25.0,
                    help="data units; the largest pairwise distance of the training images is 22.46")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--time-limit", type=float, default=0.0, help="minutes for this invocation (0: none)")
    ap.add_argument("--max-steps", type=int, default=0, help="stop once this many steps are done in all (tests)")
    ap.add_argument("--ckpt", default=os.path.join(ROOT, "build", "train", "ckpt.pt"))
    ap.add_argument("--ckpt-every", type=float, default=10.0, help="minutes between checkpoints")
    ap.add_argument("--no-resume", action="store_true", help="ignore an existing checkpoint")
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "fashion-mnist.safetensors"))
    ap.add_argument("--readme", default=os.path.join(ROOT, "models", "README.md"))
    ap.add_argument("--name", default="fashion-mnist")
    ap.add_argument("--samples", type=int, default=32,
                    help="after training, draw this many unconditional PC samples into <ckpt dir>/samples.pgm")
    ap.add_argument("--sample-steps", type=int, default=500)
    ap.add_argument("--skip-distance-check", action="store_true")
    ap.add_argument("--log-every", type=int, default=50)
    a = ap.parse_args()

    t_start = time.time()
    torch.set_num_threads(a.threads)
    if a.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(a.device)
    command = "/usr/bin/python3 tools/train_score.py" + ("" if not sys.argv[1:] else " " + shlex.join(sys.argv[1:]))
    print("train_score: %s, torch %s, device %s, %d threads" % (command, torch.__version__, device,
                                                                torch.get_num_threads()), flush=True)

    # ---- data (train split only)
    imgs = load_idx_images(os.path.join(a.data_dir, "train-images-idx3-ubyte.gz"))
    N, H, W = imgs.shape
    xall = torch.from_numpy(imgs.astype(np.float32) / 255.0)[:, None]  # [N,1,H,W], data units
    ckpt_dir = os.path.dirname(os.path.abspath(a.ckpt))
    os.makedirs(ckpt_dir, exist_ok=True)

    # ---- σ_max against the largest pairwise distance (Song & Ermon 2020, technique 1), cached
    dist_cache = os.path.join(ckpt_dir, "max_pairwise_distance.json")
    dmax = None
    if os.path.exists(dist_cache):
        with open(dist_cache) as f:
            dmax = json.load(f)["max_pairwise_distance"]
    elif not a.skip_distance_check:
        t0 = time.time()
        dmax = max_pairwise_distance(xall.reshape(N, -1), device)
        with open(dist_cache, "w") as f:
            json.dump({"max_pairwise_distance": dmax, "images": N}, f)
        print("train_score: largest pairwise distance of the %d training images: %.3f (data units, %.0f s)"
              % (N, dmax, time.time() - t0), flush=True)
    if dmax is not None:
        print("train_score: sigma_max %g vs largest pairwise distance %.3f (ratio %.2f)"
              % (a.sigma_max, dmax, a.sigma_max / dmax), flush=True)

    # ---- model, EMA, optimiser
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    chans = tuple(int(c) for c in a.channels.split(","))
    model = ScoreUNet(image_size=(H, W), channels=chans, attention=bool(a.attention), groups=a.groups,
                      embed_dim=a.embed_dim, fourier_features=a.fourier_features, sigma_min=a.sigma_min,
                      sigma_max=a.sigma_max, name=a.name, fourier_scale=a.fourier_scale)
    init_for_training(model, a.seed)
    model.to(device)
    ema = ScoreUNet(image_size=(H, W), channels=chans, attention=bool(a.attention), groups=a.groups,
                    embed_dim=a.embed_dim, fourier_features=a.fourier_features, sigma_min=a.sigma_min,
                    sigma_max=a.sigma_max, name=a.name, fourier_scale=a.fourier_scale).to(device)
    ema.load_state_dict(model.state_dict())
    ema.eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    noise_gen = torch.Generator().manual_seed(a.seed + 2)
    nparams = count_parameters(model)
    print("train_score: channels %s, attention %d, %d values (%.2f MB as float32)"
          % (a.channels, a.attention, nparams, nparams * 4 / 1e6), flush=True)

    steps_per_epoch = N // a.batch_size  # the last partial batch of each permutation is dropped
    state = {"epoch": 0, "batch": 0, "step": 0, "wall": 0.0, "history": []}
    if os.path.exists(a.ckpt) and not a.no_resume:
        ck = torch.load(a.ckpt, map_location="cpu")
        diff = {k: (ck["args"].get(k), getattr(a, k)) for k in ARCH_KEYS if ck["args"].get(k) != getattr(a, k)}
        if diff:
            raise SystemExit("train_score: %s was made with other settings %s; use --no-resume or another --ckpt"
                             % (a.ckpt, diff))
        model.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        noise_gen.set_state(ck["noise_gen"])
        state = ck["state"]
        print("train_score: resumed from %s at epoch %d batch %d (step %d, %.1f min trained)"
              % (a.ckpt, state["epoch"], state["batch"], state["step"], state["wall"] / 60), flush=True)

    def save_ckpt():
        tmp = a.ckpt + ".tmp"
        torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                    "noise_gen": noise_gen.get_state(), "state": state, "args": vars(a)}, tmp)
        os.replace(tmp, a.ckpt)

    # fixed evaluation set: 1024 training images, fixed noise, σ at four levels
    eval_idx = torch.randperm(N, generator=torch.Generator().manual_seed(a.seed + 3))[:1024]
    xeval = xall[eval_idx]
    eval_sigmas = [0.01, 0.1, 1.0, 10.0]

    xdev = xall.to(device)
    lsmin, lsmax = math.log(a.sigma_min), math.log(a.sigma_max)
    t_run = time.time()
    wall0 = state["wall"]
    last_ckpt = time.time()
    stopped = False
    run_loss, run_n, t_log = 0.0, 0, time.time()
    model.train()
    while state["epoch"] < a.epochs and not stopped:
        perm = torch.randperm(N, generator=torch.Generator().manual_seed(a.seed * 100003 + state["epoch"]))
        while state["batch"] < steps_per_epoch:
            idx = perm[state["batch"] * a.batch_size:(state["batch"] + 1) * a.batch_size].to(device)
            x = xdev[idx]
            B = x.shape[0]
            # the noise is drawn on the CPU so that CPU and CUDA runs see the same numbers
            r = torch.rand(B, generator=noise_gen, dtype=torch.float64)
            z = torch.randn((B, 1, H, W), generator=noise_gen).to(device)
            su = (2.0 * torch.exp(lsmin + r * (lsmax - lsmin))).float().to(device)  # σ_u = data_scale·σ
            out = model(2.0 * x - 1.0 + su[:, None, None, None] * z, su)
            loss = ((out + z) ** 2).mean(dim=(1, 2, 3)).mean()
            for gr in opt.param_groups:
                gr["lr"] = lr_at(state["step"], a)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if a.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), a.grad_clip)
            opt.step()
            state["step"] += 1
            state["batch"] += 1
            # EMA with the usual short-run correction: decay min(ema, (1 + n)/(10 + n))
            d = min(a.ema, (1.0 + state["step"]) / (10.0 + state["step"]))
            with torch.no_grad():
                for pe, p in zip(ema.parameters(), model.parameters()):
                    pe.mul_(d).add_(p.detach(), alpha=1.0 - d)
                for be, b in zip(ema.buffers(), model.buffers()):
                    be.copy_(b)
            run_loss += float(loss)
            run_n += 1
            now = time.time()
            state["wall"] = wall0 + (now - t_run)
            if state["step"] % a.log_every == 0:
                print("epoch %d batch %d/%d step %d: loss %.4f, lr %.2e, %.3f s/step, %.1f min"
                      % (state["epoch"], state["batch"], steps_per_epoch, state["step"], run_loss / run_n,
                         lr_at(state["step"], a), (now - t_log) / run_n, state["wall"] / 60), flush=True)
                run_loss, run_n, t_log = 0.0, 0, now
            if (a.time_limit > 0 and now - t_start >= 60.0 * a.time_limit) or 0 < a.max_steps <= state["step"]:
                stopped = True
                break
            if now - last_ckpt >= 60.0 * a.ckpt_every:
                save_ckpt()
                last_ckpt = now
        if state["batch"] >= steps_per_epoch:
            ev = eval_losses(ema, xeval, eval_sigmas, a.seed + 4, device)
            state["history"].append({"epoch": state["epoch"] + 1, "step": state["step"],
                                     "wall_min": round(state["wall"] / 60, 2),
                                     "ema_loss": {fmt_num(s): round(v, 5) for s, v in zip(eval_sigmas, ev)}})
            print("epoch %d done: EMA loss at sigma %s = %s, %.1f min"
                  % (state["epoch"] + 1, eval_sigmas, ["%.4f" % v for v in ev], state["wall"] / 60), flush=True)
            state["epoch"] += 1
            state["batch"] = 0
        save_ckpt()
        last_ckpt = time.time()

    complete = state["epoch"] >= a.epochs
    epochs_done = state["epoch"] + state["batch"] / steps_per_epoch
    ema.eval()
    ev = eval_losses(ema, xeval, eval_sigmas, a.seed + 4, device)

    # ---- export (EMA weights)
    sampler = {"type": "pc",
               "sde": {"type": "ve", "sigma_min": json_num(a.sigma_min), "sigma_max": json_num(a.sigma_max)},
               "steps": 500, "snr": 0.16, "corrector_steps": 1}
    training = {"command": command, "seed": a.seed, "epochs": a.epochs, "epochs_done": round(epochs_done, 3),
                "complete": complete, "steps": state["step"], "batch_size": a.batch_size,
                "wall_time_s": round(state["wall"], 1), "device": str(device),
                "machine": machine_description(device), "torch": torch.__version__,
                "data": "dataset-fashion-mnist train split (%d images), pixels/255" % N,
                "objective": "DSM, VE, sigma log-uniform [%s, %s], lambda(sigma)=sigma^2"
                             % (fmt_num(a.sigma_min), fmt_num(a.sigma_max)),
                "optimizer": "Adam lr %g, warm-up %d steps, grad clip %g, EMA %g"
                             % (a.lr, a.warmup, a.grad_clip, a.ema),
                "fourier_scale": a.fourier_scale,
                "max_pairwise_distance": None if dmax is None else round(dmax, 3),
                "ema_loss": {fmt_num(s): round(v, 5) for s, v in zip(eval_sigmas, ev)}}
    ema_cpu = ema.to("cpu").float()
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    save_model(ema_cpu, a.out, {"sampler": sampler, "training": training})
    size = os.path.getsize(a.out)
    # reload through the hand-written reader and compare with the in-memory network
    back = load_model(a.out)
    with torch.no_grad():
        xt = xeval[:8]
        s1 = ema_cpu.score_x(xt, torch.tensor([0.01, 0.05, 0.1, 0.3, 1.0, 3.0, 10.0, 20.0]))
        s2 = back.score_x(xt, torch.tensor([0.01, 0.05, 0.1, 0.3, 1.0, 3.0, 10.0, 20.0]))
    if not torch.equal(s1, s2):
        raise SystemExit("train_score: the exported file does not reproduce the network")
    print("train_score: wrote %s (%d bytes, %d values); EMA loss at sigma %s = %s; %s"
          % (a.out, size, nparams, eval_sigmas, ["%.4f" % v for v in ev],
             "complete" if complete else "INCOMPLETE (%.2f of %d epochs; run the same command to resume)"
             % (epochs_done, a.epochs)), flush=True)

    # ---- a sample grid with the recommended sampler (unconditional), to look at
    sample_note = ""
    if a.samples > 0:
        from reference_sampler import pc_sample
        t0 = time.time()
        xs, _ = pc_sample(back, (H, W), a.samples, a.sample_steps, 0.16, 1, True, a.sigma_min, a.sigma_max,
                          generator=torch.Generator().manual_seed(a.seed + 5))
        pgm = os.path.join(ckpt_dir, "samples.pgm")
        write_pgm_grid(pgm, xs.numpy())
        xs = xs.numpy()
        sample_note = ("%d unconditional PC samples (%d steps, snr 0.16, 1 corrector step) in %.0f s: pixel mean "
                       "%.3f (data %.3f), std %.3f (data %.3f), range [%.2f, %.2f]; grid in %s"
                       % (a.samples, a.sample_steps, time.time() - t0, xs.mean(), float(xall.mean()), xs.std(),
                          float(xall.std()), xs.min(), xs.max(), os.path.relpath(pgm, ROOT)))
        print("train_score: " + sample_note, flush=True)

    if a.readme:
        write_readme(a, training, sampler, nparams, size, dmax, state, sample_note)
        print("train_score: wrote %s" % a.readme, flush=True)


def write_readme(a, training, sampler, nparams, size, dmax, state, sample_note):
    hist = "\n".join("| %d | %d | %.1f | %s |" % (h["epoch"], h["step"], h["wall_min"],
                                                 " / ".join("%.4f" % v for v in h["ema_loss"].values()))
                     for h in state["history"])
    dist_line = ("The largest Euclidean distance between two training images is **%.2f** (computed exactly over "
                 "all pairs of the 60000 images); σ_max = %s is %.2f× that (Song & Ermon 2020, technique 1, "
                 "ask for σ_max ≈ the largest pairwise distance, so that the σ_max-perturbed data look like one "
                 "Gaussian blob and sampling can start from N(0, σ_max² I))."
                 % (dmax, fmt_num(a.sigma_max), a.sigma_max / dmax)) if dmax is not None else ""
    text = """# Score models

`%(out)s` — the score network of [docs/score-model-format.md](../docs/score-model-format.md) (`scorerecon-unet-v1`)
trained on Fashion-MNIST (Debian's `dataset-fashion-mnist`, **train split only**, 60000 images of 28×28, pixels/255 in
[0, 1]). %(nparams)d values, %(size)d bytes. Status: **%(status)s**.

| | |
|---|---|
| architecture | U-Net, channels %(channels)s, one residual block per level, self-attention at the lowest resolution: %(attn)s, GroupNorm %(groups)d groups, embedding %(embed)d, %(ff)d Fourier features of log σ_u (W ~ N(0, %(fs)g²), fixed) |
| data units | x ∈ [0, 1]; the network sees u = 2x − 1 and σ_u = 2σ (`data_scale` 2, `data_shift` −1) |
| noise | VE: x_σ = x + σ z, σ log-uniform in [σ_min, σ_max] = [%(smin)s, %(smax)s] (data units) |
| weighting | λ(σ) = σ²: loss = E ‖σ_u s_θ(u + σ_u z, σ_u) + z‖² / 784 (the network output is σ_u s_θ ≈ −z) |
| optimiser | Adam, lr %(lr)g with a %(warm)d-step linear warm-up, batch %(bs)d, gradient-norm clip %(clip)g, %(epochs)d epochs |
| exported weights | EMA, decay %(ema)g (min(%(ema)g, (1+n)/(10+n)) at step n) |
| init | PyTorch defaults; the last conv of each residual branch, the attention projection and the output conv zero |
| seed | %(seed)d (model init, Fourier frequencies, data order per epoch from (seed, epoch), noise generator) |
| default sampler (`sampler` metadata) | `%(sampler)s` |

%(dist)s

The trained range ends at σ_min = %(smin)s. The VE marginal std √(σ(t)² − σ_min²) at which the PC/ODE samplers
ask for the score falls below σ_min in the last few steps (to about 0.0018 at t = 1/500 with 500 steps); there
the C prior (`solver/prior_score_model.c`) and `tools/reference_sampler.py` evaluate the network at σ_min.

## Reproduce

```sh
%(command)s
```

Training time: %(wall)s (%(steps)d steps, %(epochs_done)s epochs) on %(device)s — %(machine)s, torch %(torch)s.
The run checkpoints to `build/train/ckpt.pt` (every %(ckev)g min and at each epoch end); the same command resumes
it. On the CPU the result is reproducible bit for bit for the same thread count and PyTorch build; on CUDA up to
the GPU's floating-point non-determinism.

## Training log (EMA model, fixed 1024 training images and noise; loss at σ = 0.01 / 0.1 / 1 / 10)

| epoch | step | minutes | loss |
|---|---|---|---|
%(hist)s

Final: %(final)s. %(sample_note)s

## Tests

`tests/data/tiny-unet.safetensors` is a tiny randomly initialised model of the same family (12×12, channels 4,8,8)
used by the fast C tests, with reference outputs in `tests/data/tiny-unet-ref.bin`; both are written by
`/usr/bin/python3 tools/make_test_model.py`. `tools/reference_sampler.py` runs the PC sampler in plain PyTorch on
the same files.
""" % {
        "out": os.path.basename(a.out), "nparams": nparams, "size": size,
        "status": "complete" if training["complete"] else "incomplete: %.2f of %d epochs" % (
            training["epochs_done"], a.epochs),
        "channels": a.channels, "attn": "yes" if a.attention else "no", "groups": a.groups, "embed": a.embed_dim,
        "ff": a.fourier_features, "fs": a.fourier_scale, "smin": fmt_num(a.sigma_min),
        "smax": fmt_num(a.sigma_max), "lr": a.lr, "warm": a.warmup, "bs": a.batch_size, "clip": a.grad_clip,
        "epochs": a.epochs, "ema": a.ema, "seed": a.seed, "sampler": json.dumps(sampler), "dist": dist_line,
        "command": training["command"], "wall": "%.1f min" % (training["wall_time_s"] / 60),
        "steps": training["steps"], "epochs_done": training["epochs_done"], "device": training["device"],
        "machine": training["machine"], "torch": training["torch"], "ckev": a.ckpt_every, "hist": hist or "| | | | |",
        "final": "EMA loss " + " / ".join("%.4f" % v for v in training["ema_loss"].values()),
        "sample_note": sample_note}
    os.makedirs(os.path.dirname(os.path.abspath(a.readme)), exist_ok=True)
    with open(a.readme, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
