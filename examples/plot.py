#!/usr/bin/python3
"""Runs the example jobs and draws their figures into docs/img/.

    /usr/bin/python3 examples/plot.py                 run build/scorerecon on every examples/*.json job, then plot
    /usr/bin/python3 examples/plot.py R1.json ...     plot existing results instead; each result's job is
                                                      examples/NAME.json, NAME being the result's file name less
                                                      ".json" and less a ".result" suffix

Results of the runs go to build/examples/NAME.result.json. Environment: SCORERECON (the binary, default
build/scorerecon), SR_THREADS (--threads for the runs, default: all cores). Prints a summary of the measured numbers
(the ones docs/examples.md quotes).
"""
import base64
import io
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
IMG = os.path.join(ROOT, "docs", "img")
RUNS = os.path.join(ROOT, "build", "examples")
JOBS = ["seed_two_point", "seed_ou", "denoise", "denoise_tv", "inpaint", "deblur", "mri", "binary_denoise"]

sys.path.insert(0, HERE)
import make_examples  # noqa: E402  (the same kernel the observations were made with)


# ---------------------------------------------------------------------------------------------- I/O

def decode(a):
    """An ARRAY value (base64 object or nested lists) as a numpy array (complex for complex64)."""
    if isinstance(a, dict):
        dt = "<c8" if a["dtype"] == "complex64" else "<f4"
        return np.frombuffer(base64.b64decode(a["data"]), dtype=dt).reshape(a["shape"])
    return np.asarray(a, dtype=np.float32)     # nested lists (results written with --lists); real arrays only


def run_job(name):
    binary = os.environ.get("SCORERECON", os.path.join(ROOT, "build", "scorerecon"))
    os.makedirs(RUNS, exist_ok=True)
    out = os.path.join(RUNS, name + ".result.json")
    cmd = [binary, "run", os.path.join(HERE, name + ".json"), "-o", out, "--quiet"]
    if os.environ.get("SR_THREADS"):
        cmd += ["--threads", os.environ["SR_THREADS"]]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    return out, time.perf_counter() - t0


def job_name(result_path):
    base = os.path.basename(result_path)
    for suffix in (".json", ".result"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    return base


def save(fig, name, palette=False):
    """Saves docs/img/NAME.png; palette=True quantises it to 256 colours (the path figures: a third of the size)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    buf.seek(0)
    path = os.path.join(IMG, name + ".png")
    if palette:
        try:
            from PIL import Image
            Image.open(buf).convert("RGB").quantize(colors=256).save(path, optimize=True)
            return
        except ImportError:  # no Pillow: keep matplotlib's full-colour PNG
            pass
    with open(path, "wb") as f:
        f.write(buf.getvalue())


# ---------------------------------------------------------------------------------------------- seed experiments

def normal_pdf(x, m, v):
    return np.exp(-0.5 * (x - m) ** 2 / v) / np.sqrt(2 * np.pi * v)


def sde_with_defaults(sde):
    """The job's SDE with the parser's defaults filled in (server/job_parse.c)."""
    d = {"ve": {"sigma_min": 0.01, "sigma_max": 50.0, "T": 1.0},
         "vp": {"beta_min": 0.1, "beta_max": 20.0, "T": 1.0},
         "drift": {"mu": 0.0, "T": 1.0}}[sde["type"]]
    return {**d, **sde}


def sde_marginal(sde, t):
    """(alpha, shift, sigma) of x_t = alpha x0 + shift + sigma z, as in solver/sde.c."""
    sde = sde_with_defaults(sde)
    if sde["type"] == "drift":
        return 1.0, sde["mu"] * t, sde["sigma"] * np.sqrt(t)
    if sde["type"] == "ve":
        sv = sde["sigma_min"] * (sde["sigma_max"] / sde["sigma_min"]) ** t
        return 1.0, 0.0, np.sqrt(np.maximum(sv * sv - sde["sigma_min"] ** 2, 0.0))
    bmin, bmax, T = sde["beta_min"], sde["beta_max"], sde["T"]
    integral = bmin * t + 0.5 * (bmax - bmin) * t * t / T
    return np.exp(-0.5 * integral), 0.0, np.sqrt(-np.expm1(-integral))


def sde_coef(sde, t):
    """(f_lin, g^2) of f(x, t) = f_lin x + f_const and g(t), as in solver/sde.c."""
    sde = sde_with_defaults(sde)
    if sde["type"] == "drift":
        return 0.0, sde["sigma"] ** 2
    if sde["type"] == "ve":
        sv = sde["sigma_min"] * (sde["sigma_max"] / sde["sigma_min"]) ** t
        return 0.0, 2.0 * sv * sv * math.log(sde["sigma_max"] / sde["sigma_min"])
    b = sde["beta_min"] + (sde["beta_max"] - sde["beta_min"]) * t / sde["T"]
    return -0.5 * b, b


def prior_components(prior):
    if prior["type"] == "gaussian":
        return [1.0], [prior["mean"]], [prior["std"]]
    w = np.asarray(prior["weights"], float)
    return list(w / w.sum()), list(prior["means"]), list(prior["stds"])


def marginal_density(prior, sde, t, x):
    w, m, s = prior_components(prior)
    a, sh, sg = sde_marginal(sde, t)
    return sum(wk * normal_pdf(x, a * mk + sh, a * a * sk * sk + sg * sg) for wk, mk, sk in zip(w, m, s))


def forward_paths(prior, sde, n, steps, rng):
    """n forward paths from the prior, simulated exactly on a grid (drift: Brownian motion with drift;
    VP: the exact OU transition of each step)."""
    w, m, s = prior_components(prior)
    comp = rng.choice(len(w), size=n, p=w)
    x = np.asarray(m)[comp] + np.asarray(s)[comp] * rng.standard_normal(n)
    T = sde["T"]
    ts = np.linspace(0, T, steps + 1)
    paths = [x.copy()]
    for t0, t1 in zip(ts[:-1], ts[1:]):
        if sde["type"] == "drift":
            x = x + sde["mu"] * (t1 - t0) + sde["sigma"] * np.sqrt(t1 - t0) * rng.standard_normal(n)
        else:
            a0, _, _ = sde_marginal(sde, t0)
            a1, _, _ = sde_marginal(sde, t1)
            r = a1 / a0
            x = r * x + np.sqrt(1 - r * r) * rng.standard_normal(n)
        paths.append(x.copy())
    return ts, np.array(paths)


def discrete_chain_var(job):
    """Variance of x(0) that the discretised sampler itself targets, for a Gaussian prior and a PC sampler without
    corrector steps: the Euler-Maruyama predictor is linear in x, so the variance follows
    V <- (1 - f_lin dt - g^2 dt / v_t)^2 V + g^2 dt (no noise on the last step when denoise is on), started from
    the exact marginal at T. It differs from the prior's variance by O(dt)."""
    prior, st = job["prior"], job["sampler"]
    if prior["type"] != "gaussian" or st["type"] != "pc" or st.get("corrector_steps", 1) != 0:
        return None
    sde, steps = sde_with_defaults(st["sde"]), st.get("steps", 1000)
    T, s2 = sde["T"], prior["std"] ** 2
    dt = T / steps
    a, _, sg = sde_marginal(sde, T)
    V = a * a * s2 + sg * sg
    for i in range(steps):
        t = T - i * dt
        a, _, sg = sde_marginal(sde, t)
        fl, g2 = sde_coef(sde, t)
        m = 1.0 - fl * dt - g2 * dt / (a * a * s2 + sg * sg)
        last = i == steps - 1 and st.get("denoise", True)
        V = m * m * V + (0.0 if last else g2 * dt)
    return V


def plot_seed(name, job, res):
    prior, sde = job["prior"], sde_with_defaults(job["sampler"]["sde"])
    T = sde["T"]
    tr = res["trajectories"]
    times = np.asarray(tr["times"], float)
    data = decode(tr["data"])[:, :, 0].astype(np.float64)          # [S, len(times)]
    ends = decode(res["samples"]).reshape(-1).astype(np.float64)
    S = ends.size
    rng = np.random.default_rng(7)
    two_point = prior["type"] == "gmm"

    # y range: where the marginals live
    lo, hi = np.percentile(data, [0.2, 99.8])
    pad = 0.15 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    ygrid = np.linspace(lo, hi, 400)
    tgrid = np.linspace(T / 400, T, 400)
    dens = np.array([marginal_density(prior, sde, t, ygrid) for t in tgrid]).T    # [y, t]
    dens = np.sqrt(dens / dens.max(axis=0, keepdims=True))                        # per-time normalised

    fig, axes = plt.subplots(1, 3, figsize=(13, 4.6), sharey=True,
                             gridspec_kw={"width_ratios": [3, 3, 1.4], "wspace": 0.1})
    ax_f, ax_r, ax_h = axes
    atom_colors = [plt.cm.tab10(j % 10) for j in range(len(prior_components(prior)[0]))]

    # forward: data -> noise
    ts, fp = forward_paths(prior, sde, 40, 400, rng)
    ax_f.imshow(dens, origin="lower", aspect="auto", extent=[tgrid[0], T, lo, hi], cmap="Greys", vmin=0, vmax=1.6)
    for k in range(fp.shape[1]):
        ax_f.plot(ts, fp[:, k], lw=0.6, alpha=0.7, color="0.25")
    ax_f.set_xlim(0, T)
    ax_f.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=5, prune="upper"))
    ax_f.set_xlabel("t (forward: data → noise)")
    ax_f.set_ylabel("x")
    ax_f.set_title("forward SDE (numpy paths; $p_t$ shaded)", fontsize=10)

    # reverse: noise -> data, from the result's trajectories (times run from T down to 0)
    ax_r.imshow(dens, origin="lower", aspect="auto", extent=[tgrid[0], T, lo, hi], cmap="Greys", vmin=0, vmax=1.6)
    show = min(S, 80)
    for k in range(show):
        if two_point:
            c = atom_colors[int(np.argmin(np.abs(np.asarray(prior["means"]) - ends[k])))]
        else:
            c = plt.cm.viridis(0.5 + 0.5 * np.clip((ends[k] - prior["mean"]) / (2 * prior["std"]), -1, 1))
        ax_r.plot(times, data[k], lw=0.6, alpha=0.8, color=c)
    ax_r.set_xlim(T, 0)
    ax_r.set_xlabel("t (reverse: noise → data)")
    ax_r.set_title(f"reverse-time sampler (scorerecon: {show} of {S} chains)", fontsize=10)

    # endpoints
    if two_point:
        w, m, _ = prior_components(prior)
        dist = np.abs(ends[:, None] - np.asarray(m)[None, :])
        nearest = np.argmin(dist, axis=1)
        text = []
        for j, (wj, mj) in enumerate(zip(w, m)):
            p = float(np.mean(nearest == j))
            se = math.sqrt(wj * (1 - wj) / S)
            ax_h.barh(mj, p, height=0.06 * (hi - lo), color=atom_colors[j], alpha=0.8,
                      label="sampled" if j == 0 else None)
            ax_h.plot([wj, wj], [mj - 0.05 * (hi - lo), mj + 0.05 * (hi - lo)], color="k", lw=2,
                      label="exact weight" if j == 0 else None)
            ax_h.text(max(p, wj) + 0.04, mj, f"{p:.3f}\nexact {wj:g}\n± {se:.3f}", va="center", fontsize=8)
            text.append(p)
        ax_h.set_xlim(0, 1.25)
        ax_h.set_xlabel("proportion at x(0)")
        ax_h.legend(loc="upper right", fontsize=7)
        ax_h.set_title("endpoints x(0)")
        summary = {"proportions": dict(zip([str(v) for v in m], text)),
                   "max_distance_to_atom": float(dist.min(axis=1).max()),
                   "mc_error": [math.sqrt(wj * (1 - wj) / S) for wj in w]}
    else:
        mu, sd = prior["mean"], prior["std"]
        bins = np.linspace(mu - 4 * sd, mu + 4 * sd, 41)
        ax_h.hist(ends, bins=bins, orientation="horizontal", density=True, color="tab:purple", alpha=0.6,
                  label="sampled x(0)")
        yy = np.linspace(bins[0], bins[-1], 300)
        ax_h.plot(normal_pdf(yy, mu, sd * sd), yy, color="k", lw=1.5, label=f"exact N({mu:g}, {sd * sd:g})")
        ax_h.set_xlabel("density")
        ax_h.legend(loc="upper right", fontsize=7)
        chain_var = discrete_chain_var(job)
        note = f"\nchain's own: {chain_var:.4f}" if chain_var is not None else ""
        ax_h.text(0.04, 0.03, f"sampled mean {ends.mean():+.4f}\nsampled var {ends.var(ddof=1):.4f}\n"
                  f"exact var {sd * sd:g}{note}", transform=ax_h.transAxes, fontsize=7.5, va="bottom")
        ax_h.set_title("endpoints x(0)")
        summary = {"mean": float(ends.mean()), "var": float(ends.var(ddof=1)),
                   "mean_se": float(ends.std(ddof=1) / math.sqrt(S)),
                   "var_se": float(ends.var(ddof=1) * math.sqrt(2.0 / (S - 1))), "discrete_chain_var": chain_var}
    ax_h.set_ylim(lo, hi)
    st = job["sampler"]
    fig.suptitle(f"{name}: {st['type']} sampler, {sde['type']} SDE, {st['steps']} steps, "
                 f"{S} chains", fontsize=11)
    save(fig, name, palette=True)
    return summary


# ---------------------------------------------------------------------------------------------- image problems

def psnr(x, ref):
    """As sr_psnr: peak = max(ref) - min(ref)."""
    peak = float(ref.max() - ref.min()) or 1.0
    mse = float(np.mean((np.asarray(x, float) - ref) ** 2))
    return 10 * math.log10(peak * peak / mse) if mse > 0 else math.inf


def exact_gaussian_posterior(job):
    """Closed-form posterior mean and std for an i.i.d. N(m, s^2) prior (identity, mask, blur, fourier)."""
    m, s = job["prior"]["mean"], job["prior"]["std"]
    sig = job["noise"]["sigma"]
    op = job["operator"]
    y = decode(job["observation"])
    H, W = job["shape"]
    if op["type"] in ("identity", "mask"):
        M = np.ones((H, W)) if op["type"] == "identity" else (decode(op["mask"]) != 0).astype(float)
        P = M / sig ** 2 + 1 / s ** 2
        return (M * y / sig ** 2 + m / s ** 2) / P, 1 / np.sqrt(P)
    if op["type"] == "blur":
        g = op["kernel"]["gaussian"]
        k = make_examples.gaussian_kernel(g["sigma"], g["size"])
        pad = np.zeros((H, W))
        pad[: k.shape[0], : k.shape[1]] = k
        hh = np.fft.fft2(np.roll(pad, (-(k.shape[0] // 2), -(k.shape[1] // 2)), axis=(0, 1)))
        q = np.abs(hh) ** 2
        aty = np.real(np.fft.ifft2(np.conj(hh) * np.fft.fft2(y)))
    else:  # fourier, explicit mask: A^T A is diagonal in k-space with (M(k) + M(-k)) / 2
        Mk = np.fft.ifftshift(decode(op["mask"]) != 0).astype(float)
        q = 0.5 * (Mk + np.roll(Mk[::-1, ::-1], (1, 1), axis=(0, 1)))
        aty = np.real(np.fft.ifft2(np.fft.ifftshift(y) * Mk, norm="ortho"))
    P = q / sig ** 2 + 1 / s ** 2
    mean = np.real(np.fft.ifft2(np.fft.fft2(aty / sig ** 2 + m / s ** 2) / P))
    return mean, np.full((H, W), np.sqrt(np.mean(1 / P)))


def observation_image(job):
    """What to show as the observation: y itself, with missing pixels masked, or the zero-filled adjoint."""
    op = job["operator"]
    y = decode(job["observation"])
    if op["type"] == "fourier":
        img = np.abs(np.fft.ifft2(np.fft.ifftshift(y), norm="ortho"))
        rows = int((decode(op["mask"]) != 0).any(axis=1).sum())
        return img, f"zero-filled |F⁻¹y| ({rows}/{y.shape[0]} k-space rows)"
    if op["type"] == "mask":
        M = decode(op["mask"]) != 0
        return np.ma.masked_array(y, mask=~M), f"observation ({100 * (1 - M.mean()):.0f}% missing: red)"
    if op["type"] == "blur":
        g = op["kernel"]["gaussian"]
        return y, f"observation (blur σ={g['sigma']:g}, {g['size']}×{g['size']})"
    return y, "observation"


def describe(job):
    pr = job["prior"]
    if pr["type"] == "tv":
        p = f"TV prior (weight {pr['weight']:g}, ε {pr.get('epsilon', 0.01):g})"
    else:
        p = f"Gaussian prior N({pr['mean']:.3f}, {pr['std']:.3f}²)"
    s = job["sampler"]
    return f"{job['operator']['type']}, noise σ={job['noise']['sigma']:g}; {p}; {s['type']} {s['steps']} steps"


def draw_panels(fig, axes, panels):
    """One image per axis: panels are (image, title, colormap, vmin, vmax), each with its own colour bar."""
    for ax, (img, title, cmap, vmin, vmax) in zip(axes, panels):
        im = ax.imshow(img, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)


def plot_image(name, job, res):
    gt = decode(job["ground_truth"]).astype(np.float64)
    mean = decode(res["mean"]).astype(np.float64)
    std = decode(res["std"]).astype(np.float64)
    met = res["metrics"]
    obs, obs_title = observation_image(job)
    obs_psnr = psnr(np.ma.filled(obs, 0.0) if np.ma.isMaskedArray(obs) else obs, gt)

    fig, axes = plt.subplots(1, 4, figsize=(14, 4.0))
    gray = plt.get_cmap("gray").copy()
    gray.set_bad("tab:red")
    panels = [(gt, "ground truth", gray, 0, 1),
              (obs, f"{obs_title}\nPSNR {obs_psnr:.2f} dB" + (" (missing as 0)" if np.ma.isMaskedArray(obs) else ""),
               gray, 0, 1),
              (mean, f"posterior mean\nPSNR {met['psnr']:.2f} dB, SSIM {met['ssim']:.3f}", gray, 0, 1),
              (std, f"posterior std\n95% coverage {met['coverage95']:.3f}", "magma", 0, None)]
    draw_panels(fig, axes, panels)
    summary = {"psnr": met["psnr"], "ssim": met["ssim"], "coverage95": met["coverage95"], "nrmse": met["nrmse"],
               "observation_psnr": obs_psnr, "acceptance_rate": res["stats"].get("acceptance_rate"),
               "step_size": res["stats"].get("step_size"), "mean_std": float(std.mean())}
    extra = ""
    if job["prior"]["type"] == "gaussian":
        emean, estd = exact_gaussian_posterior(job)
        summary.update({"exact_psnr": psnr(emean, gt), "exact_mean_std": float(estd.mean()),
                        "max_abs_mean_minus_exact": float(np.abs(mean - emean).max()),
                        "rms_mean_minus_exact": float(np.sqrt(np.mean((mean - emean) ** 2)))})
        extra = (f"\nexact posterior: PSNR {summary['exact_psnr']:.2f} dB, mean std {estd.mean():.4f}; "
                 f"sampled mean within {summary['max_abs_mean_minus_exact']:.3f} of its mean everywhere")
    fig.suptitle(f"{name}: {describe(job)}, {job['num_samples']} chains{extra}", fontsize=10)
    save(fig, name)
    return summary


def plot_binary(name, job, res):
    """Binary denoising with the Ising prior: ground truth, observation, posterior mean and the per-pixel flip
    probability P(x != thresholded observation); pixel accuracy of the thresholded posterior mean against that of
    the plainly thresholded observation."""
    a, b = job["prior"].get("values", [-1, 1])
    gt = decode(job["ground_truth"]).astype(np.float64)
    y = decode(job["observation"]).astype(np.float64)
    mean = decode(res["mean"]).astype(np.float64)
    p_b = (mean - a) / (b - a)                                  # P(x = b) per pixel
    thr = 0.5 * (a + b)
    obs_b = (y - thr) * (b - a) > 0                             # the thresholded observation is b here
    flip = np.where(obs_b, 1.0 - p_b, p_b)                      # P(x != thresholded observation)
    gt_b = (gt - thr) * (b - a) > 0
    acc_obs = float(np.mean(obs_b == gt_b))
    acc_post = float(np.mean((p_b > 0.5) == gt_b))
    st = res["stats"]
    fig, axes = plt.subplots(1, 4, figsize=(14, 4.0))
    panels = [(gt, "ground truth (thresholded at 0.5)", "gray", a, b),
              (y, f"observation: + N(0, {job['noise']['sigma']:g}²)\nthresholded: pixel accuracy {100 * acc_obs:.1f}%",
               "gray", None, None),
              (mean, f"posterior mean\nthresholded: pixel accuracy {100 * acc_post:.1f}%", "gray", a, b),
              (flip, "P(x ≠ thresholded observation)", "magma", 0, 1)]
    draw_panels(fig, axes, panels)
    pr, sp = job["prior"], job["sampler"]
    fig.suptitle(f"{name}: Fashion-MNIST test image 0, identity, noise σ={job['noise']['sigma']:g}; Ising prior "
                 f"(J {pr['coupling']:g}, field {pr.get('field', 0):g}, {pr.get('boundary', 'free')}); mh "
                 f"{sp.get('proposal', 'single_flip')}, {sp['sweeps']} sweeps, {job['num_samples']} chains; "
                 f"acceptance {st['acceptance_rate']:.3f}, {st['flips_per_second'] / 1e6:.0f}M flips/s",
                 fontsize=9)
    save(fig, name)
    return {"pixel_accuracy_posterior_mean": acc_post, "pixel_accuracy_thresholded_observation": acc_obs,
            "pixels_changed_from_observation": float(np.mean((p_b > 0.5) != obs_b)),
            "mean_flip_probability": float(flip.mean()), "psnr": res["metrics"]["psnr"],
            "acceptance_rate": st["acceptance_rate"], "flips_per_second": st["flips_per_second"]}


# ---------------------------------------------------------------------------------------------- main

def main():
    os.makedirs(IMG, exist_ok=True)
    if len(sys.argv) > 1:
        todo = [(job_name(p), p, None) for p in sys.argv[1:]]
    else:
        todo = []
        for name in JOBS:
            path, wall = run_job(name)
            todo.append((name, path, wall))
    report = {}
    for name, path, wall in todo:
        with open(os.path.join(HERE, name + ".json")) as f:
            job = json.load(f)
        with open(path) as f:
            res = json.load(f)
        seconds = res["stats"]["seconds"]
        if "trajectories" in res:
            summary = plot_seed(name, job, res)
        elif job["prior"]["type"] == "ising":
            summary = plot_binary(name, job, res)
        else:
            summary = plot_image(name, job, res)
        summary["solver_seconds"] = seconds
        if wall is not None:
            summary["wall_seconds"] = wall
        report[name] = summary
        print(f"{name:15s} " + ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in summary.items()))
        print(f"{'':15s} -> {os.path.relpath(os.path.join(IMG, name + '.png'), ROOT)}")
    os.makedirs(RUNS, exist_ok=True)
    with open(os.path.join(RUNS, "summary.json"), "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
