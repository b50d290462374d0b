#!/usr/bin/python3
"""examples/pipeline.py IN_DIR OUT_DIR — denoise every image of a folder with the scorerecon service.

Reads IN_DIR/*.npy (2-D arrays) and IN_DIR/*.png (8-bit, non-interlaced; colour is averaged to gray; scaled to
[0, 1]), submits one denoising job per image (identity operator, Gaussian noise of std --sigma; a TV prior
sampled by MALA, or a score model: --prior fashion-mnist for 28x28 images in [0, 1]), waits for them all and
writes OUT_DIR/NAME.mean.npy and OUT_DIR/NAME.std.npy (with --png also NAME.mean.png and NAME.std.png, as the
service draws them). Every job carries the --labels and image:NAME.

    build/scorerecon serve &
    /usr/bin/python3 examples/pipeline.py noisy/ denoised/ --labels project:demo --png
"""
import argparse
import os
import struct
import sys
import zlib

import numpy as np

try:
    import scorerecon
except ImportError:  # not installed: the copy in this repository
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python"))
    import scorerecon


def read_png(path):
    """An 8-bit non-interlaced PNG (gray, gray+alpha, RGB or RGBA) as a float32 gray image in [0, 1]."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("%s is not a PNG file" % path)
    pos, idat, head = 8, b"", None
    while pos + 8 <= len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IHDR":
            head = struct.unpack(">IIBBBBB", data[pos + 8:pos + 21])
        elif kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    w, h, depth, color, _, _, interlace = head
    ch = {0: 1, 4: 2, 2: 3, 6: 4}.get(color)
    if depth != 8 or ch is None or interlace:
        raise ValueError("%s: only 8-bit non-interlaced gray or RGB(A) PNGs are read" % path)
    raw, stride = zlib.decompress(idat), w * ch
    rows, prev = [], [0] * stride
    for y in range(h):  # undo each row's filter (none, sub, up, average, Paeth)
        f, cur = raw[y * (stride + 1)], list(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a, b, c = (cur[i - ch] if i >= ch else 0), prev[i], (prev[i - ch] if i >= ch else 0)
            p = a + b - c
            paeth = a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c) else b if abs(p - b) <= abs(p - c) else c
            cur[i] = (cur[i] + (0, a, b, (a + b) // 2, paeth)[f]) & 255
        rows.append(cur)
        prev = cur
    img = np.array(rows, dtype=np.float32).reshape(h, w, ch)
    return img[..., :3 if ch >= 3 else 1].mean(axis=-1) / 255


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input", help="folder of .npy and .png images")
    ap.add_argument("output", help="folder for the results (created)")
    ap.add_argument("--url", default="http://127.0.0.1:8080", help="the service (default %(default)s)")
    ap.add_argument("--token-file", help="file holding the service's bearer token")
    ap.add_argument("--labels", default="", help="KEY:VALUE[,KEY:VALUE...] put on every job")
    ap.add_argument("--sigma", type=float, default=0.1, help="noise std of the images (default %(default)s)")
    ap.add_argument("--prior", default="tv", help="tv (default) or a score model name (scorerecon models)")
    ap.add_argument("--steps", type=int, help="sampler steps (default: MALA 2000 for tv, the model's own)")
    ap.add_argument("--samples", type=int, default=8, help="chains per image (default %(default)s)")
    ap.add_argument("--png", action="store_true", help="also write NAME.mean.png and NAME.std.png")
    args = ap.parse_args()

    token = None
    if args.token_file:
        with open(args.token_file) as f:
            token = f.read().strip()
    client = scorerecon.Client(args.url, token=token)
    labels = dict(kv.split(":", 1) for kv in args.labels.split(",") if kv)
    if args.prior == "tv":
        prior, sampler = {"type": "tv", "weight": 20, "epsilon": 0.05}, {"type": "mala", "steps": args.steps or 2000}
    else:
        prior, sampler = {"type": "score_model", "model": args.prior}, {"type": "auto"}
        if args.steps:
            sampler["steps"] = args.steps

    jobs = []
    for name in sorted(os.listdir(args.input)):
        stem, ext = os.path.splitext(name)
        path = os.path.join(args.input, name)
        if ext.lower() not in (".npy", ".png"):
            continue
        img = read_png(path) if ext.lower() == ".png" else np.load(path)
        if img.ndim != 2:
            print("%s: skipped, not a 2-D image (shape %s)" % (name, img.shape))
            continue
        job = client.submit(shape=list(img.shape), operator={"type": "identity"}, noise={"sigma": args.sigma},
                            observation=img, prior=prior, sampler=sampler, num_samples=args.samples,
                            labels=dict(labels, image=stem[:127]))
        print("%s: job %s" % (name, job.id))
        jobs.append((stem, job))

    os.makedirs(args.output, exist_ok=True)
    failed = 0
    for stem, job in jobs:
        try:
            info = job.wait()
        except scorerecon.JobFailed as e:
            info = e.info
        if info["status"] != "succeeded":
            print("%s: %s %s" % (stem, info["status"], info.get("error", "")))
            failed += 1
            continue
        r = job.result(document=False)
        np.save(os.path.join(args.output, stem + ".mean.npy"), r.mean)
        np.save(os.path.join(args.output, stem + ".std.npy"), r.std)
        if args.png:
            for out in ("mean.png", "std.png"):
                with open(os.path.join(args.output, stem + "." + out), "wb") as f:
                    f.write(job.file(out))
        print("%s: done, mean std %.4g" % (stem, float(r.std.mean())))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
