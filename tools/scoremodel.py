"""scoremodel.py — the score network of docs/score-model-format.md (`scorerecon-unet-v1`) in PyTorch, and a
hand-written safetensors reader and writer (no third-party safetensors package).

    from scoremodel import ScoreUNet, load_model, save_model
    model = load_model("models/fashion-mnist.safetensors")      # eval mode, float32, CPU
    s = model.score_x(x, sigma)     # x [B,1,H,W] images in data units, sigma [B] (or a float) in data units

The module names below make the state_dict keys exactly the documented tensor names (`down.0.res.norm1.weight`,
`mid.attn.q.weight`, `temb.W`, ...). Runs on PyTorch 1.13 (Debian's CPU build) and on newer builds (CUDA).
"""
import json
import math
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

FORMAT = "scorerecon-unet-v1"
GN_EPS = 1e-6


def _gn(c, groups):
    return nn.GroupNorm(groups, c, eps=GN_EPS)


class TEmb(nn.Module):
    """Noise embedding: [sin(2π W log σ_u), cos(2π W log σ_u)] -> fc1 -> SiLU -> fc2
    (keys temb.W, temb.fc1.*, temb.fc2.*)."""

    def __init__(self, fourier_features, embed_dim, fourier_scale=1.0):
        super().__init__()
        # fixed random frequencies: a buffer (in the state_dict, not trained); init_weights() draws them
        self.register_buffer("W", torch.zeros(fourier_features))
        self.fourier_scale = fourier_scale
        self.fc1 = nn.Linear(2 * fourier_features, embed_dim)
        self.fc2 = nn.Linear(embed_dim, embed_dim)

    def forward(self, sigma_u):
        a = 2.0 * math.pi * self.W[None, :] * torch.log(sigma_u)[:, None]
        e = torch.cat([torch.sin(a), torch.cos(a)], dim=1)
        return self.fc2(F.silu(self.fc1(e)))


class ResBlock(nn.Module):
    """(conv2(silu(norm2(conv1(silu(norm1(x))) + temb_proj(silu(emb))))) + skip(x)) / √2."""

    def __init__(self, cin, cout, groups, embed_dim):
        super().__init__()
        self.norm1 = _gn(cin, groups)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.temb_proj = nn.Linear(embed_dim, cout)
        self.norm2 = _gn(cout, groups)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb_proj(F.silu(emb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        s = x if self.skip is None else self.skip(x)
        return (h + s) / math.sqrt(2.0)


class Attn(nn.Module):
    """Single-head self-attention over the H·W positions: (x + proj(v softmax(qᵀk/√c)ᵀ)) / √2."""

    def __init__(self, c, groups):
        super().__init__()
        self.norm = _gn(c, groups)
        self.q = nn.Conv2d(c, c, 1)
        self.k = nn.Conv2d(c, c, 1)
        self.v = nn.Conv2d(c, c, 1)
        self.proj = nn.Conv2d(c, c, 1)

    def forward(self, x):
        B, C, H, W = x.shape
        n = self.norm(x)
        q = self.q(n).reshape(B, C, H * W)
        k = self.k(n).reshape(B, C, H * W)
        v = self.v(n).reshape(B, C, H * W)
        w = torch.softmax(torch.bmm(q.transpose(1, 2), k) / math.sqrt(C), dim=2)  # [B, P(query), P(key)]
        a = torch.bmm(v, w.transpose(1, 2)).reshape(B, C, H, W)
        return (x + self.proj(a)) / math.sqrt(2.0)


class Down(nn.Module):
    def __init__(self, cin, cout, groups, embed_dim, last):
        super().__init__()
        self.res = ResBlock(cin, cout, groups, embed_dim)
        self.down = None if last else nn.Conv2d(cout, cout, 3, stride=2, padding=1)


class Up(nn.Module):
    def __init__(self, cin, cout, groups, embed_dim, first):
        super().__init__()
        self.res = ResBlock(cin, cout, groups, embed_dim)
        self.up = None if first else nn.Conv2d(cout, cout, 3, padding=1)


class Mid(nn.Module):
    def __init__(self, c, groups, embed_dim, attention):
        super().__init__()
        self.res1 = ResBlock(c, c, groups, embed_dim)
        self.attn = Attn(c, groups) if attention else None
        self.res2 = ResBlock(c, c, groups, embed_dim)


class ScoreUNet(nn.Module):
    """The `scorerecon-unet-v1` network. forward(u, sigma_u) returns `out` (the network output, ≈ −z);
    score_u = out/σ_u, score_x = data_scale·score_u (see score_x())."""

    def __init__(self, image_size=(28, 28), channels=(32, 64, 128), attention=True, groups=8, embed_dim=128,
                 fourier_features=16, sigma_min=0.01, sigma_max=20.0, data_scale=2.0, data_shift=-1.0,
                 name="model", fourier_scale=1.0):
        super().__init__()
        for c in channels:
            if c % groups:
                raise ValueError("channel count %d is not divisible by groups %d" % (c, groups))
        self.image_size = tuple(int(v) for v in image_size)
        self.channels = tuple(int(c) for c in channels)
        self.attention = bool(attention)
        self.groups = int(groups)
        self.embed_dim = int(embed_dim)
        self.fourier_features = int(fourier_features)
        self.sigma_min = float(sigma_min)
        self.sigma_max = float(sigma_max)
        self.data_scale = float(data_scale)
        self.data_shift = float(data_shift)
        self.name = name
        L = len(self.channels)
        ch = self.channels
        self.temb = TEmb(self.fourier_features, self.embed_dim, fourier_scale)
        self.conv_in = nn.Conv2d(1, ch[0], 3, padding=1)
        self.down = nn.ModuleList(
            [Down(ch[i - 1] if i else ch[0], ch[i], groups, embed_dim, i == L - 1) for i in range(L)])
        self.mid = Mid(ch[L - 1], groups, embed_dim, self.attention)
        # up[i] is index i of the ModuleList, so its keys are up.i.*; it runs from i = L-1 down to 0
        self.up = nn.ModuleList(
            [Up((ch[L - 1] if i == L - 1 else ch[i + 1]) + ch[i], ch[i], groups, embed_dim, i == 0)
             for i in range(L)])
        self.out_norm = _gn(ch[0], groups)
        self.out_conv = nn.Conv2d(ch[0], 1, 3, padding=1)
        self.extra_metadata = {}

    def init_weights(self, generator=None, fourier_scale=None):
        """Draws the fixed Fourier frequencies W ~ N(0, fourier_scale²) (default: the constructor's)."""
        s = self.temb.fourier_scale if fourier_scale is None else fourier_scale
        with torch.no_grad():
            w = torch.randn(self.fourier_features, generator=generator, dtype=torch.float64) * s
            self.temb.W.copy_(w.to(self.temb.W.dtype))

    def embed(self, sigma_u):
        return self.temb(sigma_u)

    def forward(self, u, sigma_u, trace=None):
        """u: [B,1,H,W] network units; sigma_u: [B] network units. Returns the network output `out` [B,1,H,W].
        trace: optional dict that receives intermediate activations (for reference vectors)."""
        emb = self.temb(sigma_u)
        h = self.conv_in(u)
        if trace is not None:
            trace["emb"] = emb
            trace["conv_in"] = h
        skips = []
        L = len(self.channels)
        for i in range(L):
            h = self.down[i].res(h, emb)
            if trace is not None:
                trace["down.%d.res" % i] = h
            skips.append(h)
            if i < L - 1:
                h = self.down[i].down(h)
        h = self.mid.res1(h, emb)
        if self.mid.attn is not None:
            h = self.mid.attn(h)
            if trace is not None:
                trace["mid.attn"] = h
        h = self.mid.res2(h, emb)
        if trace is not None:
            trace["mid"] = h
        for i in range(L - 1, -1, -1):
            h = self.up[i].res(torch.cat([h, skips[i]], dim=1), emb)
            if trace is not None:
                trace["up.%d.res" % i] = h
            if i > 0:
                h = self.up[i].up(F.interpolate(h, scale_factor=2, mode="nearest"))
                hs, ws = skips[i - 1].shape[2], skips[i - 1].shape[3]
                h = h[:, :, :hs, :ws]  # crop (top-left) to the skip size; a no-op for even sizes
        out = self.out_conv(F.silu(self.out_norm(h)))
        if trace is not None:
            trace["out"] = out
        return out

    def score_x(self, x, sigma, trace=None):
        """∇_x log p_σ(x) in data units, for x [B,1,H,W] (or [B,H,W]) in data units and σ in data units."""
        squeeze = x.dim() == 3
        if squeeze:
            x = x[:, None]
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
        if sigma.dim() == 0:
            sigma = sigma.expand(x.shape[0])
        su = self.data_scale * sigma
        u = self.data_scale * x + self.data_shift
        out = self.forward(u, su, trace)
        s = out * (self.data_scale / su)[:, None, None, None]
        return s[:, 0] if squeeze else s

    def metadata(self):
        """The `__metadata__` of docs/score-model-format.md (all values strings)."""
        md = {
            "format": FORMAT,
            "name": self.name,
            "image_size": "%d,%d" % self.image_size,
            "channels": ",".join(str(c) for c in self.channels),
            "attention": "1" if self.attention else "0",
            "groups": str(self.groups),
            "embed_dim": str(self.embed_dim),
            "fourier_features": str(self.fourier_features),
            "sde": "ve",
            "sigma_min": fmt_num(self.sigma_min),
            "sigma_max": fmt_num(self.sigma_max),
            "data_scale": fmt_num(self.data_scale),
            "data_shift": fmt_num(self.data_shift),
            "parameters": str(count_parameters(self)),
        }
        for k, v in self.extra_metadata.items():
            md[k] = v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
        return md


def fmt_num(v):
    """Shortest round-trip decimal of a double, without a trailing '.0' (20 -> '20', 0.01 -> '0.01')."""
    s = repr(float(v))
    return s[:-2] if s.endswith(".0") else s


def count_parameters(model):
    """Values stored in the file: every state_dict tensor (the trained parameters plus the fixed temb.W)."""
    return int(sum(t.numel() for t in model.state_dict().values()))


# ---------------------------------------------------------------- safetensors, by hand

def write_safetensors(path, tensors, metadata=None):
    """tensors: {name: array-like}, written as little-endian F32 in sorted name order; metadata: {str: str}."""
    names = sorted(tensors)
    header = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError("safetensors metadata must map strings to strings (%r)" % (k,))
        header["__metadata__"] = dict(metadata)
    blobs = []
    off = 0
    for n in names:
        t = tensors[n]
        if isinstance(t, torch.Tensor):
            t = t.detach().cpu().to(torch.float32).numpy()
        a = np.ascontiguousarray(np.asarray(t, dtype="<f4"))
        b = a.tobytes()
        header[n] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    h += b" " * ((-len(h)) % 8)  # pad with spaces so that the data starts at a multiple of 8
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """Returns ({name: float32 numpy array}, metadata dict). Checks offsets, sizes and dtypes strictly."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError("%s: too short for a safetensors file" % path)
    (hl,) = struct.unpack("<Q", raw[:8])
    if hl > len(raw) - 8:
        raise ValueError("%s: header length %d beyond the file" % (path, hl))
    header = json.loads(raw[8:8 + hl].decode("utf-8"))
    data = raw[8 + hl:]
    meta = header.pop("__metadata__", {}) or {}
    out = {}
    spans = []
    for n, d in header.items():
        if d["dtype"] != "F32":
            raise ValueError("%s: tensor %s has dtype %s, only F32 is supported" % (path, n, d["dtype"]))
        b, e = d["data_offsets"]
        shape = tuple(int(s) for s in d["shape"])
        if e - b != 4 * int(np.prod(shape, dtype=np.int64)) or not 0 <= b <= e <= len(data):
            raise ValueError("%s: tensor %s has bad data_offsets %r for shape %r" % (path, n, (b, e), shape))
        spans.append((b, e))
        out[n] = np.frombuffer(data, dtype="<f4", count=(e - b) // 4, offset=b).reshape(shape).copy()
    spans.sort()
    pos = 0
    for b, e in spans:
        if b != pos:
            raise ValueError("%s: tensor data is not contiguous (gap or overlap at byte %d)" % (path, b))
        pos = e
    if pos != len(data):
        raise ValueError("%s: %d bytes after the last tensor" % (path, len(data) - pos))
    return out, meta


def _ints(s):
    return tuple(int(v) for v in s.split(","))


def model_from_metadata(meta):
    if meta.get("format") != FORMAT:
        raise ValueError("metadata format must be %s (got %r)" % (FORMAT, meta.get("format")))
    m = ScoreUNet(image_size=_ints(meta["image_size"]), channels=_ints(meta["channels"]),
                  attention=meta.get("attention", "0") == "1", groups=int(meta["groups"]),
                  embed_dim=int(meta["embed_dim"]), fourier_features=int(meta["fourier_features"]),
                  sigma_min=float(meta["sigma_min"]), sigma_max=float(meta["sigma_max"]),
                  data_scale=float(meta.get("data_scale", "1")), data_shift=float(meta.get("data_shift", "0")),
                  name=meta.get("name", "model"))
    if meta.get("sde", "ve") != "ve":
        raise ValueError("only sde ve is supported (got %r)" % meta.get("sde"))
    return m


def load_model(path, device="cpu", dtype=torch.float32):
    """Reads a `scorerecon-unet-v1` safetensors file into a ScoreUNet (eval mode). Every tensor must be used and
    have the architecture's shape. model.file_metadata holds the whole `__metadata__`."""
    tensors, meta = read_safetensors(path)
    m = model_from_metadata(meta)
    sd = m.state_dict()
    missing = sorted(set(sd) - set(tensors))
    extra = sorted(set(tensors) - set(sd))
    if missing or extra:
        raise ValueError("%s: tensors missing %s, unexpected %s" % (path, missing[:5], extra[:5]))
    for k, v in sd.items():
        if tuple(v.shape) != tensors[k].shape:
            raise ValueError("%s: tensor %s has shape %s, the architecture needs %s"
                             % (path, k, tensors[k].shape, tuple(v.shape)))
    m.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()})
    m.file_metadata = meta
    for k in ("sampler", "training"):
        if k in meta:
            m.extra_metadata[k] = meta[k]
    return m.to(device=device, dtype=dtype).eval()


def save_model(model, path, extra_metadata=None):
    md = model.metadata()
    if extra_metadata:
        for k, v in extra_metadata.items():
            md[k] = v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
    write_safetensors(path, {k: v for k, v in model.state_dict().items()}, md)
    return md
