#!/usr/bin/python3
"""Writes the example jobs in examples/ (deterministic: every random draw comes from a seeded numpy Generator).

    /usr/bin/python3 examples/make_examples.py [OUTDIR]      (default: the directory of this script)

Jobs:
  seed_two_point.json  two-point prior {-0.3: 0.4, 0.5: 0.6}, drift SDE, reverse-time PC sampler, trajectories
  seed_ou.json         N(0, 0.04) prior, Ornstein-Uhlenbeck (VP with constant beta = 1) SDE, trajectories
  denoise.json         identity operator, sigma 0.1, i.i.d. Gaussian prior, MALA (closed-form posterior)
  denoise_tv.json      the same observation, smoothed-TV prior, MALA
  inpaint.json         50% of the pixels missing, sigma 0.02, smoothed-TV prior, MALA
  deblur.json          circular Gaussian blur (sigma 1.5, 9x9), sigma 0.02, smoothed-TV prior, MALA
  mri.json             Cartesian-undersampled centred k-space (acceleration 3), sigma 0.02, smoothed-TV prior, MALA
  sense.json           a complex image (the phantom with a smooth phase), 4 coils with smooth complex sensitivities,
                       SENSE with Cartesian undersampling (acceleration 2), complex noise 0.02 per part, complex TV
                       prior, MALA (image_dtype complex64)
  binary_denoise.json  the first Fashion-MNIST test image thresholded at 0.5 ({0, 1}), Gaussian noise sigma 0.5,
                       Ising prior (values [0, 1]), Metropolis-Hastings (checkerboard)

denoise.json keeps the i.i.d. Gaussian prior (mean and std of the phantom) because its posterior is known in closed
form, which examples/plot.py checks the sampled moments against. The others use the TV prior: under an i.i.d.
Gaussian prior unobserved pixels and k-space rows just revert to the prior mean, and the Gaussian (Wiener)
deconvolution is no sharper than the blurred observation, so there would be little to see.

Images use the base64 ARRAY form: {"dtype": "float32"|"complex64", "shape": [...], "data": base64 of the
little-endian, row-major values (complex64 = interleaved re, im)}.
"""
import base64
import gzip
import json
import os
import sys

import numpy as np

H = W = 48                 # image size of the image problems
SEED = 20240601            # numpy seed for the phantom noise, masks and observations


# ---------------------------------------------------------------------------------------------- encoding

def array(x, complex_=False):
    """The ARRAY object of x (float32 or complex64, little-endian, row-major)."""
    x = np.ascontiguousarray(x, dtype="<c8" if complex_ else "<f4")
    return {"dtype": "complex64" if complex_ else "float32",
            "shape": list(x.shape),
            "data": base64.b64encode(x.tobytes()).decode("ascii")}


def write(outdir, name, job):
    path = os.path.join(outdir, name)
    with open(path, "w") as f:
        json.dump(job, f, indent=1)
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path) / 1024:.1f} KB)")


# ---------------------------------------------------------------------------------------------- the phantom

def phantom(h=H, w=W):
    """A piecewise-smooth test image in [0, 1]: a head-like ellipse with a smooth intensity ramp, darker and
    brighter inner ellipses, a bright rectangle and a small disc, on a zero background."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    u = (xx + 0.5) / w * 2 - 1          # [-1, 1], left to right
    v = (yy + 0.5) / h * 2 - 1          # [-1, 1], top to bottom

    def ellipse(cx, cy, ax, ay, theta=0.0):
        c, s = np.cos(theta), np.sin(theta)
        du, dv = u - cx, v - cy
        return ((c * du + s * dv) / ax) ** 2 + ((-s * du + c * dv) / ay) ** 2 <= 1.0

    img = np.zeros((h, w))
    body = ellipse(0.0, 0.0, 0.82, 0.92)
    img[body] = 0.45 + 0.2 * v[body]                       # smooth vertical ramp inside the body
    img[ellipse(-0.32, -0.15, 0.22, 0.38, 0.35)] = 0.12     # dark left lobe
    img[ellipse(0.30, -0.10, 0.18, 0.30, -0.35)] = 0.80     # bright right lobe
    rect = (np.abs(u - 0.0) <= 0.28) & (np.abs(v - 0.52) <= 0.12)
    img[rect] = 1.0                                        # bright bar
    img[ellipse(0.0, 0.18, 0.09, 0.09)] = 0.95             # small disc
    blob = ellipse(-0.05, -0.55, 0.25, 0.14)
    img[blob] = 0.65 + 0.15 * u[blob] / 0.25               # horizontally shaded blob
    return np.clip(img, 0.0, 1.0).astype(np.float32)


# ---------------------------------------------------------------------------------------------- operators

def gaussian_kernel(sigma, size):
    """The same kernel as sr_gaussian_kernel: centre (size//2, size//2), normalised to sum 1."""
    c = size // 2
    i, j = np.mgrid[0:size, 0:size].astype(np.float64)
    k = np.exp(-((i - c) ** 2 + (j - c) ** 2) / (2.0 * sigma * sigma))
    return k / k.sum()


def circular_blur(x, kernel):
    """Circular convolution with the kernel's centre element (k//2, k//2) at the origin."""
    h, w = x.shape
    kh, kw = kernel.shape
    pad = np.zeros((h, w))
    pad[:kh, :kw] = kernel / kernel.sum()
    pad = np.roll(pad, (-(kh // 2), -(kw // 2)), axis=(0, 1))
    return np.real(np.fft.ifft2(np.fft.fft2(x.astype(np.float64)) * np.fft.fft2(pad)))


def cartesian_mask(h, w, acceleration, center_fraction, rng):
    """Whole rows of centred k-space: round(h * center_fraction) rows around h//2, then random other rows up to
    round(h / acceleration) rows in all (the fastMRI convention, like the solver's own generator)."""
    total = int(round(h / acceleration))
    ncen = min(h, int(round(h * center_fraction)))
    total = min(h, max(total, ncen))
    keep = np.zeros(h, bool)
    c0 = h // 2 - ncen // 2
    keep[c0:c0 + ncen] = True
    rest = np.flatnonzero(~keep)
    keep[rng.choice(rest, size=total - ncen, replace=False)] = True
    return np.repeat(keep[:, None], w, axis=1).astype(np.float32)


def centred_fft(x):
    return np.fft.fftshift(np.fft.fft2(x.astype(np.float64), norm="ortho"))


# ---------------------------------------------------------------------------------------------- jobs

def seed_jobs(outdir):
    write(outdir, "seed_two_point.json", {
        "shape": [1],
        "operator": {"type": "none"},
        "prior": {"type": "gmm", "weights": [0.4, 0.6], "means": [-0.3, 0.5], "stds": [0, 0]},
        "sampler": {"type": "pc", "sde": {"type": "drift", "mu": 0.5, "sigma": 0.25, "T": 2},
                    "steps": 1000, "corrector_steps": 0},
        "num_samples": 2000,
        "seed": 1,
        "outputs": ["mean", "std", "samples", {"trajectories": {"every": 10}}],
    })
    write(outdir, "seed_ou.json", {
        "shape": [1],
        "operator": {"type": "none"},
        "prior": {"type": "gaussian", "mean": 0, "std": 0.2},
        # A true SDE sample (no noise-free last step, which would drop g^2 dt of variance); 4000 steps keep the
        # Euler-Maruyama bias near +1.6% (it is +6.5% at 1000 steps: tests/test_samplers.c computes it exactly).
        "sampler": {"type": "pc", "sde": {"type": "vp", "beta_min": 1, "beta_max": 1, "T": 5},
                    "steps": 4000, "corrector_steps": 0, "denoise": False},
        "num_samples": 4000,
        "seed": 2,
        "outputs": ["mean", "std", "samples", {"trajectories": {"every": 10}}],
    })


def image_jobs(outdir):
    rng = np.random.default_rng(SEED)
    x = phantom()
    gt = array(x)
    gauss = {"type": "gaussian", "mean": round(float(x.mean()), 6), "std": round(float(x.std()), 6)}
    outputs = ["mean", "std", "samples"]
    tv = {"type": "tv", "weight": 20, "epsilon": 0.05}
    mala = {"type": "mala", "steps": 3000, "burn_in": 1000}          # well-conditioned Gaussian posterior
    mala_tv = {"type": "mala", "steps": 10000, "burn_in": 2000}

    # denoising: y = x + 0.1 z
    y = x + 0.1 * rng.standard_normal(x.shape)
    common = {"shape": [H, W], "operator": {"type": "identity"}, "noise": {"sigma": 0.1},
              "observation": array(y), "num_samples": 8, "seed": 3, "ground_truth": gt, "outputs": outputs}
    write(outdir, "denoise.json", {**common, "prior": gauss, "sampler": mala})
    write(outdir, "denoise_tv.json", {**common,
                                      "prior": tv, "sampler": mala_tv})

    # inpainting: half the pixels missing, the rest with noise 0.02 (missing entries are stored as 0)
    mask = (rng.random(x.shape) >= 0.5).astype(np.float32)
    y = mask * (x + 0.02 * rng.standard_normal(x.shape))
    write(outdir, "inpaint.json", {
        "shape": [H, W], "operator": {"type": "mask", "mask": array(mask)}, "noise": {"sigma": 0.02},
        "observation": array(y), "prior": tv, "sampler": mala_tv,
        "num_samples": 8, "seed": 4, "ground_truth": gt, "outputs": outputs})

    # deblurring: circular Gaussian blur (sigma 1.5, 9x9) + noise 0.02
    y = circular_blur(x, gaussian_kernel(1.5, 9)) + 0.02 * rng.standard_normal(x.shape)
    write(outdir, "deblur.json", {
        "shape": [H, W], "operator": {"type": "blur", "kernel": {"gaussian": {"sigma": 1.5, "size": 9}}},
        "noise": {"sigma": 0.02}, "observation": array(y), "prior": tv, "sampler": mala_tv,
        "num_samples": 8, "seed": 5, "ground_truth": gt, "outputs": outputs})

    # MRI: centred orthonormal k-space, whole rows kept (acceleration 3, 8% centre), complex noise 0.02 per part
    kmask = cartesian_mask(H, W, 3, 0.08, rng)
    noise = 0.02 * (rng.standard_normal(x.shape) + 1j * rng.standard_normal(x.shape))
    y = kmask * (centred_fft(x) + noise)
    write(outdir, "mri.json", {
        "shape": [H, W], "operator": {"type": "fourier", "mask": array(kmask)}, "noise": {"sigma": 0.02},
        "observation": array(y, complex_=True), "prior": tv, "sampler": mala_tv,
        "num_samples": 8, "seed": 6, "ground_truth": gt, "outputs": outputs})


def complex_jobs(outdir):
    rng = np.random.default_rng(SEED + 1)      # its own stream: the other jobs stay as they were
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    x = phantom() * np.exp(1j * np.pi * 0.5 * ((xx - W / 2) / W + (yy - H / 2) / H))
    coils = []
    for k in range(4):                         # smooth bumps around the image, each with its own phase ramp
        a = 2 * np.pi * k / 4
        cy, cx = H / 2 + 0.6 * H * np.sin(a), W / 2 + 0.6 * W * np.cos(a)
        mag = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (0.6 * H) ** 2))
        coils.append(mag * np.exp(1j * (a + 0.05 * (xx + yy))))
    S = np.array(coils)
    S /= np.sqrt((np.abs(S) ** 2).sum(axis=0)).max()   # max_p sum_c |S_c(p)|^2 = 1
    kmask = cartesian_mask(H, W, 2, 0.08, rng)
    y = np.stack([kmask * (np.fft.fftshift(np.fft.fft2(S[c] * x, norm="ortho")) + 0.02 * (
        rng.standard_normal(x.shape) + 1j * rng.standard_normal(x.shape))) for c in range(4)])
    write(outdir, "sense.json", {
        "shape": [H, W], "image_dtype": "complex64",
        "operator": {"type": "sense", "sensitivities": array(S, complex_=True), "mask": array(kmask)},
        "noise": {"sigma": 0.02}, "observation": array(y, complex_=True),
        "prior": {"type": "tv", "weight": 20, "epsilon": 0.05}, "sampler": {"type": "mala", "steps": 10000, "burn_in": 2000},
        "num_samples": 4, "seed": 8, "ground_truth": array(x, complex_=True), "outputs": ["mean", "std", "samples"]})


FASHION_MNIST = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"   # Debian's dataset-fashion-mnist


def fashion_mnist_test_image(index=0, path=FASHION_MNIST):
    """Test image `index` of Fashion-MNIST (28x28 uint8) from the IDX file: magic 2051, count, rows, cols, pixels."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, count, rows, cols = np.frombuffer(raw[:16], dtype=">u4")
    if magic != 2051 or index >= count:
        raise SystemExit(f"{path}: not an IDX image file with image {index}")
    n = int(rows) * int(cols)
    return np.frombuffer(raw, dtype=np.uint8, count=n, offset=16 + index * n).reshape(int(rows), int(cols))


def binary_jobs(outdir):
    """Binary denoising: x in {0, 1} is the thresholded image, y = x + 0.5 z. Gaussian noise (not flipped pixels)
    because it is exactly the likelihood the solver assumes, so the posterior is the model's own. J = 0.8 is the
    middle of the 0.6-1.0 range the Ising literature uses for binary images; field 0 (no preference for ink)."""
    if not os.path.exists(FASHION_MNIST):
        raise SystemExit(f"{FASHION_MNIST} is missing: apt-get install dataset-fashion-mnist")
    rng = np.random.default_rng(SEED + 1)
    img = fashion_mnist_test_image(0).astype(np.float64) / 255.0
    x = (img > 0.5).astype(np.float32)
    sigma = 0.5
    y = x + sigma * rng.standard_normal(x.shape)
    write(outdir, "binary_denoise.json", {
        "shape": list(x.shape), "operator": {"type": "identity"}, "noise": {"sigma": sigma},
        "observation": array(y),
        "prior": {"type": "ising", "coupling": 0.8, "field": 0, "boundary": "free", "values": [0, 1]},
        "sampler": {"type": "mh", "sweeps": 4000, "burn_in": 1000, "proposal": "checkerboard"},
        "num_samples": 16, "seed": 7, "ground_truth": array(x), "outputs": ["mean", "std", "samples"]})


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    os.makedirs(outdir, exist_ok=True)
    seed_jobs(outdir)
    image_jobs(outdir)
    complex_jobs(outdir)
    binary_jobs(outdir)


if __name__ == "__main__":
    main()
