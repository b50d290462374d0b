#!/usr/bin/python3
"""A multi-coil MRI example at 128 x 128: BART's phantom and coil maps, 8 coils, Cartesian undersampling (every third
phase-encoding line and the 16 central ones, R ≈ 2.6), complex noise; reconstructed by scorerecon with a Gaussian
prior (SENSE/Tikhonov: the posterior mean is what `bart pics -l2` computes) and with total variation (the posterior
mean, against BART's TV MAP `bart pics -R T`), with the posterior std. Draws docs/img/sense128.png and prints the
numbers docs/examples.md quotes.

    /usr/bin/python3 examples/sense_phantom.py        (needs /usr/bin/bart, numpy, matplotlib; about a minute)

The job files go to build/sense128/ (3 MB each, not committed): a 128 x 128 x 8 complex observation and the coil
maps as base64 ARRAYs. Environment: SCORERECON (default build/scorerecon), SR_THREADS (--threads).
"""
import base64
import json
import os
import subprocess
import sys

import numpy as np
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BIN = os.environ.get("SCORERECON", os.path.join(ROOT, "build", "scorerecon"))
OUT = os.path.join(ROOT, "build", "sense128")
N, C, SIGMA, PRIOR_STD, TV_WEIGHT = 128, 8, 0.01, 0.5, 40.0


def bart(*args):
    subprocess.run(["/usr/bin/bart"] + [str(a) for a in args], check=True, cwd=OUT, stdout=subprocess.DEVNULL)


def read_cfl(name):
    """A BART pair as our row-major array: BART [X, Y, 1, C] column-major is row-major [C, 1, Y, X]."""
    with open(os.path.join(OUT, name + ".hdr")) as f:
        lines = f.read().split("\n")
    dims = [int(d) for d in lines[lines.index("# Dimensions") + 1].split()]
    a = np.fromfile(os.path.join(OUT, name + ".cfl"), dtype="<c8")
    while dims and dims[-1] == 1:
        dims.pop()
    return a.reshape(dims[::-1])


def write_cfl(name, a):
    a = np.asarray(a, dtype="<c8")
    dims = list(a.shape[::-1]) + [1] * (16 - a.ndim)
    with open(os.path.join(OUT, name + ".hdr"), "w") as f:
        f.write("# Dimensions\n" + " ".join(map(str, dims)) + "\n")
    a.tofile(os.path.join(OUT, name + ".cfl"))


def array(a, complex_=True):
    a = np.ascontiguousarray(a, dtype="<c8" if complex_ else "<f4")
    return {"dtype": "complex64" if complex_ else "float32", "shape": list(a.shape),
            "data": base64.b64encode(a.tobytes()).decode()}


def fft(x):  # scorerecon's k-space: orthonormal, zero frequency at [N/2][N/2], image origin at [0][0]
    return np.fft.fftshift(np.fft.fft2(x, norm="ortho"), axes=(-2, -1))


def ifft(y):
    return np.fft.ifft2(np.fft.ifftshift(y, axes=(-2, -1)), norm="ortho")


def decode(a):
    raw = base64.b64decode(a["data"])
    return np.frombuffer(raw, dtype="<c8" if a["dtype"] == "complex64" else "<f4").reshape(a["shape"])


def nrmse(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def psnr(x, truth):
    return float(20 * np.log10(np.abs(truth).max() / np.sqrt(np.mean((np.abs(x) - np.abs(truth)) ** 2))))


def main():
    os.makedirs(OUT, exist_ok=True)
    bart("phantom", "-x", N, "img")
    bart("phantom", "-x", N, "-S", C, "sens")
    truth = read_cfl("img").reshape(N, N)
    sens = read_cfl("sens").reshape(C, N, N)
    sens = sens / np.sqrt((np.abs(sens) ** 2).sum(axis=0, keepdims=True))  # Σ_c |S_c|² = 1
    mask = np.zeros((N, N), np.float32)
    mask[::3, :] = 1
    mask[N // 2 - 8:N // 2 + 8, :] = 1
    rng = np.random.default_rng(128)
    noise = SIGMA * (rng.standard_normal((C, N, N)) + 1j * rng.standard_normal((C, N, N)))
    y = mask * (fft(sens * truth) + noise)
    zero_filled = (np.conj(sens) * ifft(y)).sum(axis=0)
    base = {"shape": [N, N], "image_dtype": "complex64",
            "operator": {"type": "sense", "sensitivities": array(sens), "mask": array(mask, False)},
            "noise": {"sigma": SIGMA}, "observation": array(y), "ground_truth": array(truth),
            "num_samples": 8, "seed": 1, "outputs": ["mean", "std"]}
    jobs = {"tikhonov": dict(base, prior={"type": "gaussian", "mean": 0, "std": PRIOR_STD},
                             sampler={"type": "mala", "steps": 2000, "burn_in": 500}),
            "tv": dict(base, prior={"type": "tv", "weight": TV_WEIGHT, "epsilon": 0.01},
                       sampler={"type": "mala", "steps": 6000, "burn_in": 2000})}
    res = {}
    for name, job in jobs.items():
        path = os.path.join(OUT, name + ".json")
        with open(path, "w") as f:
            json.dump(job, f)
        cmd = [BIN, "run", path, "-o", os.path.join(OUT, name + ".result.json"), "--quiet"]
        if os.environ.get("SR_THREADS"):
            cmd += ["--threads", os.environ["SR_THREADS"]]
        subprocess.run(cmd, check=True)
        with open(os.path.join(OUT, name + ".result.json")) as f:
            res[name] = json.load(f)
    # BART on the same data: its k-space convention is ours times the checkerboard (docs/job-format.md)
    i, j = np.meshgrid(np.arange(N), np.arange(N), indexing="ij")
    checker = np.where((i + j) % 2 == 0, 1.0, -1.0)
    write_cfl("y", (y * checker)[:, None, :, :])
    write_cfl("s", sens[:, None, :, :])
    write_cfl("p", mask.astype(np.complex64))
    lam = (SIGMA / PRIOR_STD) ** 2  # σ and the prior std per real component: the posterior mean is pics -l2 -r λ
    bart("pics", "-d0", "-w", 1, "-i", 300, "-l2", "-r", lam, "-p", "p", "y", "s", "l2")
    bart("pics", "-d0", "-w", 1, "-i", 300, "-R", "T:3:0:%g" % (SIGMA ** 2 * TV_WEIGHT), "-p", "p", "y", "s", "tv")
    pics_l2, pics_tv = read_cfl("l2").reshape(N, N), read_cfl("tv").reshape(N, N)
    mean_t, mean_tv = decode(res["tikhonov"]["mean"]), decode(res["tv"]["mean"])
    std_tv = decode(res["tv"]["std"])
    numbers = {
        "psnr_zero_filled": psnr(zero_filled, truth), "psnr_tikhonov": psnr(mean_t, truth),
        "psnr_tv_mean": psnr(mean_tv, truth), "psnr_bart_tv_map": psnr(pics_tv, truth),
        "nrmse_tikhonov_vs_pics_l2": nrmse(mean_t, pics_l2), "nrmse_tv_mean_vs_pics_tv_map": nrmse(mean_tv, pics_tv),
        "seconds_tikhonov": res["tikhonov"]["stats"]["seconds"], "seconds_tv": res["tv"]["stats"]["seconds"],
        "rhat_max_tv": max(res["tv"]["stats"]["rhat"]) if isinstance(res["tv"]["stats"].get("rhat"), list)
        else res["tv"]["stats"].get("rhat")}
    print(json.dumps(numbers, indent=1))
    panels = [("truth", np.abs(truth)), ("zero-filled (Σ S* F⁻¹ y)", np.abs(zero_filled)),
              ("SENSE/Tikhonov mean", np.abs(mean_t)), ("TV posterior mean", np.abs(mean_tv)),
              ("BART TV MAP (pics -R T)", np.abs(pics_tv)), ("TV posterior std", std_tv)]
    fig, axes = plt.subplots(1, 6, figsize=(18, 3.6))
    for k, (ax, (title, im)) in enumerate(zip(axes, panels)):
        h = ax.imshow(im, cmap="gray" if k < 5 else "magma", vmin=0, vmax=1 if k < 5 else None)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
        if k == 5:
            fig.colorbar(h, ax=ax, fraction=0.046)
    fig.suptitle("8-coil SENSE, 128 x 128, R = %.1f, sigma %g: PSNR zero-filled %.1f, Tikhonov %.1f, TV mean %.1f, "
                 "BART TV MAP %.1f dB" % (N * N / mask.sum(), SIGMA, numbers["psnr_zero_filled"],
                                           numbers["psnr_tikhonov"], numbers["psnr_tv_mean"],
                                           numbers["psnr_bart_tv_map"]), fontsize=11)
    fig.tight_layout()
    out = os.path.join(ROOT, "docs", "img", "sense128.png")
    fig.savefig(out, dpi=80)
    print("wrote " + out)


if __name__ == "__main__":
    sys.exit(main())
