#!/usr/bin/python3
"""make_test_model.py — writes the tiny randomly initialised score model used by the fast C tests and its
reference outputs (PyTorch, computed in float64 from the stored float32 weights):

    /usr/bin/python3 tools/make_test_model.py      # -> tests/data/tiny-unet.safetensors, tests/data/tiny-unet-ref.bin
    /usr/bin/python3 tools/make_test_model.py --ref28   # -> tests/data/tiny-unet-ref28.bin (the model at 28 x 28)

Model: image 12×12 (two stride-2 downsamplings: 12 → 6 → 3), channels 4,8,8, groups 2, embed_dim 16,
fourier_features 4, attention 1, seed 1234. GroupNorm affine parameters and the Fourier frequencies are random
(not 1/0) and the attention q, k weights are scaled up, so that every parameter matters to the output.

Reference file `tiny-unet-ref.bin` (all little-endian):
    8 bytes   magic "SRREF1\\0\\0"
    u32       number of entries
    per entry:
      u32         name length n, then n bytes of ASCII name (no terminator)
      u32         rank r, then r × u32 dimensions
      float32     prod(dims) values, row-major
Entries, in this order (batch of 3; image i is evaluated at sigma[i]):
    x           [3,12,12]   inputs in data units, uniform in [0, 1]
    sigma       [3]         0.02, 0.7, 9.0 (data units)
    score       [3,12,12]   score_x = data_scale · out / σ_u (data units): what sr_unet_score returns
    emb         [3,16]      temb.fc2 output (before the SiLU that the residual blocks apply)
    conv_in     [3,4,12,12] conv_in(u), u = 2x − 1
    down.0.res  [3,4,12,12], down.1.res [3,8,6,6], down.2.res [3,8,3,3]
    mid.attn    [3,8,3,3]   after mid.attn;  mid [3,8,3,3] after mid.res2
    up.2.res    [3,8,3,3], up.1.res [3,8,6,6], up.0.res [3,4,12,12]
    out         [3,1,12,12] out_conv output (network units)
"""
import os
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from scoremodel import ScoreUNet, load_model, read_safetensors, save_model  # noqa: E402

ROOT = os.path.normpath(os.path.join(HERE, ".."))
MAGIC = b"SRREF1\0\0"
SIGMAS = [0.02, 0.7, 9.0]
ORDER = ["x", "sigma", "score", "emb", "conv_in", "down.0.res", "down.1.res", "down.2.res", "mid.attn", "mid",
         "up.2.res", "up.1.res", "up.0.res", "out"]


def write_ref(path, entries):
    with open(path, "wb") as f:
        f.write(MAGIC)
        f.write(struct.pack("<I", len(entries)))
        for name, arr in entries:
            a = np.ascontiguousarray(arr, dtype="<f4")
            nb = name.encode("ascii")
            f.write(struct.pack("<I", len(nb)) + nb)
            f.write(struct.pack("<I", a.ndim) + struct.pack("<%dI" % a.ndim, *a.shape))
            f.write(a.tobytes())


def read_ref(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:8] != MAGIC:
        raise ValueError("%s: bad magic" % path)
    (n,) = struct.unpack_from("<I", raw, 8)
    pos, out = 12, {}
    for _ in range(n):
        (ln,) = struct.unpack_from("<I", raw, pos)
        name = raw[pos + 4:pos + 4 + ln].decode("ascii")
        pos += 4 + ln
        (r,) = struct.unpack_from("<I", raw, pos)
        dims = struct.unpack_from("<%dI" % r, raw, pos + 4)
        pos += 4 + 4 * r
        cnt = int(np.prod(dims, dtype=np.int64))
        out[name] = np.frombuffer(raw, dtype="<f4", count=cnt, offset=pos).reshape(dims)
        pos += 4 * cnt
    if pos != len(raw):
        raise ValueError("%s: %d trailing bytes" % (path, len(raw) - pos))
    return out


def make_model(seed=1234):
    torch.manual_seed(seed)
    m = ScoreUNet(image_size=(12, 12), channels=(4, 8, 8), attention=True, groups=2, embed_dim=16,
                  fourier_features=4, sigma_min=0.01, sigma_max=25.0, name="tiny-unet")
    g = torch.Generator().manual_seed(seed)
    m.init_weights(generator=g, fourier_scale=1.0)
    with torch.no_grad():
        for name, mod in m.named_modules():
            if isinstance(mod, torch.nn.GroupNorm):
                mod.weight.copy_(1.0 + 0.2 * torch.randn(mod.weight.shape, generator=g))
                mod.bias.copy_(0.2 * torch.randn(mod.bias.shape, generator=g))
        m.mid.attn.q.weight.mul_(3.0)
        m.mid.attn.k.weight.mul_(3.0)
    return m


def compute(model, x, sig, dtype):
    m = model.to(dtype)
    tr = {}
    with torch.no_grad():
        s = m.score_x(torch.as_tensor(x, dtype=dtype)[:, None], torch.as_tensor(sig, dtype=dtype), trace=tr)
    return s[:, 0].numpy(), {k: v.numpy() for k, v in tr.items()}


def write_ref28(mpath, rpath):
    """The stored tiny model run at 28 x 28 (its convolutions do not depend on the image size): the first two levels
    (28, 14) go through Winograd F(4x4, 3x3) in the C network, so this is their oracle. Only x, sigma and score."""
    back = load_model(mpath, dtype=torch.float64)
    x = np.random.default_rng(2828).uniform(0.0, 1.0, size=(2, 28, 28)).astype(np.float32)
    sig = np.array([0.05, 3.0], dtype=np.float32)
    s64, _ = compute(back, x.astype(np.float64), sig.astype(np.float64), torch.float64)
    write_ref(rpath, [("x", x), ("sigma", sig), ("score", s64)])
    print("tiny model at 28 x 28: reference %s %d bytes" % (os.path.relpath(rpath, ROOT), os.path.getsize(rpath)))


def main():
    out_dir = os.path.join(ROOT, "tests", "data")
    if sys.argv[1:] == ["--ref28"]:  # the 28 x 28 reference alone, from the stored model (which stays as it is)
        write_ref28(os.path.join(out_dir, "tiny-unet.safetensors"), os.path.join(out_dir, "tiny-unet-ref28.bin"))
        return
    os.makedirs(out_dir, exist_ok=True)
    mpath = os.path.join(out_dir, "tiny-unet.safetensors")
    rpath = os.path.join(out_dir, "tiny-unet-ref.bin")
    model = make_model()
    save_model(model, mpath, {
        "sampler": {"type": "pc", "sde": {"type": "ve", "sigma_min": 0.01, "sigma_max": 25}, "steps": 20,
                    "snr": 0.16, "corrector_steps": 1},
        "training": {"command": "/usr/bin/python3 tools/make_test_model.py", "seed": 1234, "epochs": 0,
                     "note": "randomly initialised, for tests only"}})

    # the reference is computed from the file as written (float32 weights), in float64
    back = load_model(mpath, dtype=torch.float64)
    x = np.random.default_rng(1234).uniform(0.0, 1.0, size=(3, 12, 12)).astype(np.float32)
    sig = np.array(SIGMAS, dtype=np.float32)
    s64, tr64 = compute(back, x.astype(np.float64), sig.astype(np.float64), torch.float64)
    entries = [("x", x), ("sigma", sig), ("score", s64)] + [(k, tr64[k]) for k in ORDER[3:]]
    write_ref(rpath, entries)

    # checks: the file reloads to the same tensors; float32 PyTorch agrees with the float64 reference
    tens, meta = read_safetensors(mpath)
    sd = model.state_dict()
    assert set(tens) == set(sd) and all(np.array_equal(tens[k], sd[k].float().numpy()) for k in sd)
    ref = read_ref(rpath)
    assert list(ref) == ORDER
    s32, tr32 = compute(load_model(mpath), x, sig, torch.float32)
    print("tiny model: %d values, %s %d bytes; reference %s %d bytes"
          % (int(meta["parameters"]), os.path.relpath(mpath, ROOT), os.path.getsize(mpath),
             os.path.relpath(rpath, ROOT), os.path.getsize(rpath)))
    for k in ["score", "emb", "conv_in", "down.0.res", "mid.attn", "out"]:
        r = ref[k].astype(np.float64)
        a = tr32[k] if k != "score" else s32
        a = a.reshape(r.shape)
        err = np.abs(a - r).max() / np.abs(r).max()
        print("  %-10s max|ref| %-10.4g float32 PyTorch vs float64 reference: max|diff|/max|ref| = %.2e"
              % (k, np.abs(r).max(), err))
        assert err < 1e-5, k
    # per image (the C side evaluates one σ per call): relative error per image
    for i, s in enumerate(SIGMAS):
        r = ref["score"][i].astype(np.float64)
        e = np.abs(s32[i] - r).max() / np.abs(r).max()
        print("  score image %d (sigma %g): max|ref| %.4g, float32 rel. error %.2e" % (i, s, np.abs(r).max(), e))
    print("ok")


if __name__ == "__main__":
    main()
