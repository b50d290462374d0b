#!/usr/bin/python3
"""reference_sampler.py — the PC sampler of solver/sampler_pc.c with a score-model prior, as plain PyTorch.

    /usr/bin/python3 tools/reference_sampler.py JOB.json [--model FILE] [-o RESULT.json] [--num-samples S]
                                                [--steps N] [--batch B] [--threads T] [--device cpu|cuda]

JOB.json is a job document (docs/job-format.md) with `"prior": {"type": "score_model", "model": NAME}` (the file is
models/NAME.safetensors, or --model FILE) and a `pc` sampler over the `ve` SDE; fields the job leaves out come
from the model's `sampler` metadata, then from the C defaults. Operators: none, identity, mask (ARRAY), fourier
(mask ARRAY; the cartesian/random generators use the C code's Philox stream and are not reproduced here).
The random numbers are torch's, so the result matches the C path in law, not bit for bit.

What it computes (the same as sampler_pc.c, VE SDE, T = 1, Δt = 1/steps, t_i = 1 − iΔt, i = 0..steps−1):
  σ(t) = σmin (σmax/σmin)^t,  g(t) = σ(t) √(2 ln(σmax/σmin)),  marginal std s_t = √(σ(t)² − σmin²)
  start: x = s_1 z
  posterior score: ∇ log p(x) = score_model(x, max(s_t, model σ_min)) + w_t (Aᵀy − AᵀA x),  w_t = 1/(σ_y² + s_t²)
  corrector (× corrector_steps): ε = 2 snr² ‖z‖²/‖∇‖² (per chain),  x ← x + ε ∇ + √(2ε) z
  predictor: x ← x + g² Δt ∇ + g √Δt z   (no noise on the last step when denoise is true)
The output is every chain's final state: mean, std (n − 1) and samples, plus PSNR/NRMSE with a ground truth.
"""
import argparse
import base64
import json
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scoremodel import load_model  # noqa: E402

C_DEFAULTS = {"steps": 1000, "snr": 0.16, "corrector_steps": 1, "denoise": True}


# ---------------------------------------------------------------- operators (A, Aᵀy, AᵀA)

class Identity:
    def __init__(self, y, mask=None):
        self.m = None if mask is None else torch.as_tensor(mask != 0, dtype=torch.float32)
        y = torch.as_tensor(y, dtype=torch.float32)
        self.aty = y if self.m is None else self.m * y  # unobserved entries are 0

    def normal(self, x):
        return x if self.m is None else x * self.m


class Fourier:
    """y = M ⊙ fftshift(fft2(x, ortho)); Aᵀy = Re(ifft2(ifftshift(M ⊙ y), ortho))."""

    def __init__(self, y, mask):
        self.m = torch.as_tensor(mask != 0, dtype=torch.float32)
        y = torch.as_tensor(y, dtype=torch.complex64) * self.m
        self.aty = self._adj(y)

    def _adj(self, k):
        return torch.fft.ifft2(torch.fft.ifftshift(k, dim=(-2, -1)), norm="ortho").real

    def normal(self, x):
        k = torch.fft.fftshift(torch.fft.fft2(x, norm="ortho"), dim=(-2, -1)) * self.m
        return self._adj(k)


def _to(op, device):
    if op is None:
        return None
    if op.m is not None:
        op.m = op.m.to(device)
    op.aty = op.aty.to(device)
    return op


# ---------------------------------------------------------------- the sampler

@torch.no_grad()
def pc_sample(model, shape, num_samples, steps, snr=0.16, corrector_steps=1, denoise=True, sigma_min=None,
              sigma_max=None, op=None, noise_sigma=None, generator=None, batch=None, device="cpu",
              progress=False):
    """Returns (samples [S,H,W] float32 CPU tensor, score evaluations per chain). op: Identity/Fourier or None."""
    smin = model.sigma_min if sigma_min is None else sigma_min
    smax = model.sigma_max if sigma_max is None else sigma_max
    H, W = shape
    S = num_samples
    B = S if not batch else min(batch, S)
    lg = math.log(smax / smin)
    dt = 1.0 / steps
    op = _to(op, device)

    def sig(t):
        return smin * (smax / smin) ** t

    def marg(t):
        v = sig(t) ** 2 - smin ** 2
        return math.sqrt(v) if v > 0 else 0.0

    def randn(n):
        return torch.randn((n, H, W), generator=generator, dtype=torch.float32).to(device)

    out = []
    evals = 0
    for c0 in range(0, S, B):
        nb = min(B, S - c0)
        x = marg(1.0) * randn(nb)
        evals = 0
        for i in range(steps):
            t = 1.0 - i * dt
            s_t = marg(t)
            w = 0.0 if op is None else 1.0 / (noise_sigma ** 2 + s_t ** 2)
            g = sig(t) * math.sqrt(2.0 * lg)

            s_net = max(s_t, model.sigma_min)  # as prior_score_model.c: below the trained σ_min, at σ_min

            def post_score(xx):
                s = model.score_x(xx, s_net)
                if op is not None:
                    s = s + w * (op.aty - op.normal(xx))
                return s

            for _ in range(corrector_steps):
                gr = post_score(x)
                evals += 1
                z = randn(nb)
                zn = (z.double() ** 2).sum(dim=(1, 2))
                gn = (gr.double() ** 2).sum(dim=(1, 2))
                eps = torch.where(gn > 0, 2.0 * snr * snr * zn / gn.clamp_min(1e-300), torch.zeros_like(gn))
                ef = eps.float()[:, None, None]
                x = x + ef * gr + torch.sqrt(2.0 * eps).float()[:, None, None] * z
            gr = post_score(x)
            evals += 1
            last = i == steps - 1
            x = x + (g * g * dt) * gr
            if not (last and denoise):
                x = x + (g * math.sqrt(dt)) * randn(nb)
            if progress and (i + 1) % max(1, steps // 10) == 0:
                print("  chains %d-%d: step %d/%d" % (c0, c0 + nb - 1, i + 1, steps), file=sys.stderr)
        out.append(x.cpu())
    return torch.cat(out, 0), evals


# ---------------------------------------------------------------- job documents

def read_array(a, want_complex=False):
    if isinstance(a, dict):
        raw = base64.b64decode(a["data"], validate=True)
        dt = {"float32": "<f4", "complex64": "<c8"}[a["dtype"]]
        v = np.frombuffer(raw, dtype=dt).reshape(a["shape"])
        if want_complex and a["dtype"] != "complex64":
            raise ValueError("complex64 ARRAY wanted here")
        return v.astype(np.complex64 if want_complex else np.float32)
    v = np.array(a, dtype=np.float64)
    if want_complex:
        return (v[..., 0] + 1j * v[..., 1]).astype(np.complex64)
    return v.astype(np.float32)


def write_array(v):
    v = np.ascontiguousarray(v, dtype="<f4")
    return {"dtype": "float32", "shape": list(v.shape), "data": base64.b64encode(v.tobytes()).decode()}


def build_operator(job):
    o = job["operator"]
    if isinstance(o, list):
        if len(o) != 1:
            raise SystemExit("reference_sampler: operator lists are not supported (use one operator)")
        o = o[0]
    t = o["type"]
    if t == "none":
        return None, None
    sy = float(job["noise"]["sigma"])
    if t == "identity":
        return Identity(read_array(job["observation"])), sy
    if t == "mask":
        return Identity(read_array(job["observation"]), read_array(o["mask"])), sy
    if t == "fourier":
        if isinstance(o["mask"], dict) and "data" not in o["mask"]:
            raise SystemExit("reference_sampler: fourier mask generators are not reproduced; give the mask as an "
                             "ARRAY (e.g. the C code's mask)")
        return Fourier(read_array(job["observation"], True), read_array(o["mask"])), sy
    raise SystemExit("reference_sampler: operator type %s is not supported (none, identity, mask, fourier)" % t)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("job")
    ap.add_argument("--model", help="safetensors file (default models/NAME.safetensors from prior.model)")
    ap.add_argument("--models", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
    ap.add_argument("-o", "--output", help="result JSON (mean, std, samples, metrics, stats)")
    ap.add_argument("--num-samples", type=int)
    ap.add_argument("--steps", type=int)
    ap.add_argument("--batch", type=int, default=0, help="chains per network batch (default: all)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    with open(a.job) as f:
        job = json.load(f)
    prior = job["prior"]
    if a.model:
        path = a.model
    else:
        if prior.get("type") != "score_model":
            raise SystemExit("reference_sampler: prior.type must be score_model (or give --model)")
        path = os.path.join(a.models, prior["model"] + ".safetensors")
    model = load_model(path, device=a.device)
    shape = tuple(job["shape"])
    if shape != model.image_size:
        raise SystemExit("reference_sampler: shape %s does not match the model's %s" % (shape, model.image_size))

    scfg = dict(C_DEFAULTS)
    sde = {}
    if "sampler" in model.extra_metadata:
        md = json.loads(model.extra_metadata["sampler"])
        sde.update(md.get("sde", {}))
        scfg.update({k: v for k, v in md.items() if k in C_DEFAULTS})
    js = job.get("sampler", {})
    if js.get("type", "pc") != "pc":
        raise SystemExit("reference_sampler: only the pc sampler is implemented")
    sde.update(js.get("sde", {}))
    if sde.get("type", "ve") != "ve":
        raise SystemExit("reference_sampler: only the ve SDE is implemented")
    scfg.update({k: v for k, v in js.items() if k in C_DEFAULTS})
    if a.steps:
        scfg["steps"] = a.steps
    smin = float(sde.get("sigma_min", model.sigma_min))
    smax = float(sde.get("sigma_max", model.sigma_max))
    S = a.num_samples or int(job.get("num_samples", 8))
    op, sy = build_operator(job)
    gen = torch.Generator().manual_seed(int(job.get("seed", 0)))

    t0 = time.perf_counter()
    xs, evals = pc_sample(model, shape, S, int(scfg["steps"]), float(scfg["snr"]), int(scfg["corrector_steps"]),
                          bool(scfg["denoise"]), smin, smax, op, sy, gen, a.batch or None, a.device,
                          progress=not a.quiet)
    secs = time.perf_counter() - t0
    xs = xs.numpy()
    mean = xs.mean(0)
    std = xs.std(0, ddof=1) if S > 1 else np.zeros_like(mean)
    res = {"shape": list(shape), "num_samples": S, "mean": write_array(mean), "std": write_array(std),
           "samples": write_array(xs),
           "stats": {"score_evals": evals, "seconds": secs, "threads": a.threads, "device": a.device},
           "sampler": {"type": "pc", "sde": {"type": "ve", "sigma_min": smin, "sigma_max": smax},
                       "steps": int(scfg["steps"]), "snr": float(scfg["snr"]),
                       "corrector_steps": int(scfg["corrector_steps"]), "denoise": bool(scfg["denoise"])}}
    if "ground_truth" in job:
        gt = read_array(job["ground_truth"]).astype(np.float64)
        peak = gt.max() - gt.min() or 1.0
        mse = float(((mean - gt) ** 2).mean())
        res["metrics"] = {"psnr": 10 * math.log10(peak * peak / mse) if mse > 0 else None,
                          "nrmse": float(np.linalg.norm(mean - gt) / (np.linalg.norm(gt) or 1.0))}
    if a.output:
        with open(a.output, "w") as f:
            json.dump(res, f)
    n_eval = S * evals
    print("reference_sampler: %d chains x %d steps (%d corrector) on %s: %.3f s wall, %d score evaluations "
          "(%.3f ms per image-evaluation)%s"
          % (S, scfg["steps"], scfg["corrector_steps"], a.device, secs, n_eval, 1e3 * secs / max(n_eval, 1),
             (", PSNR %.2f dB" % res["metrics"]["psnr"]) if res.get("metrics", {}).get("psnr") else ""))


if __name__ == "__main__":
    main()
