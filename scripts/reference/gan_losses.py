#!/usr/bin/env python3
"""Reference values for the host's GAN objectives (host/src/train/gan_loss.rs).

Writes tests/fixtures/gan_losses/reference.json: for fixed discriminator
logits on real and fake rows, each objective's discriminator and generator
loss and their gradients with respect to every logit, computed by PyTorch's
autograd from the formulas of TextGAN-PyTorch's `utils/helpers.py`
(`get_losses`), the toolkit RelGAN users run:

* standard (the non-saturating GAN):
    d = BCE(real, 1) + BCE(fake, 0),  g = BCE(fake, 1);
* rsgan (relativistic standard GAN, RelGAN's default):
    d = BCE(real - fake, 1),          g = BCE(fake - real, 1);
* hinge:
    d = mean relu(1 - real) + mean relu(1 + fake),  g = -mean fake;

BCE is torch.nn.BCEWithLogitsLoss (mean over rows). The cases include
saturated logits (+-50), where a naive sigmoid-then-log form is not finite.

    /work/torchenv/bin/python scripts/reference/gan_losses.py

(torch 2.15.0, float64.)
"""
import json
import os

import torch

bce = torch.nn.BCEWithLogitsLoss()


def losses(kind, real, fake):
    if kind == "standard":
        d = bce(real, torch.ones_like(real)) + bce(fake, torch.zeros_like(fake))
        g = bce(fake, torch.ones_like(fake))
    elif kind == "rsgan":
        d = bce(real - fake, torch.ones_like(real))
        g = bce(fake - real, torch.ones_like(fake))
    elif kind == "hinge":
        d = torch.relu(1.0 - real).mean() + torch.relu(1.0 + fake).mean()
        g = -fake.mean()
    else:
        raise ValueError(kind)
    return d, g


def case(kind, real, fake):
    out = {"kind": kind, "real": real, "fake": fake}
    for side in ("discriminator", "generator"):
        r = torch.tensor(real, dtype=torch.float64, requires_grad=True)
        f = torch.tensor(fake, dtype=torch.float64, requires_grad=True)
        d, g = losses(kind, r, f)
        loss = d if side == "discriminator" else g
        loss.backward()
        out[side] = {
            "loss": loss.item(),
            # A loss that does not read the real logits has no gradient there.
            "d_real": r.grad.tolist() if r.grad is not None else [0.0] * len(real),
            "d_fake": f.grad.tolist() if f.grad is not None else [0.0] * len(fake),
        }
    return out


LOGITS = [
    ([0.3, -1.2, 2.5, 0.0], [-0.7, 1.1, -2.0, 0.4]),
    ([50.0, -50.0, 3.0], [-50.0, 50.0, 0.5]),
    ([0.999, 1.0, -0.2], [-1.0, -0.999, 0.25]),
]

cases = [case(kind, real, fake) for kind in ("standard", "rsgan", "hinge") for real, fake in LOGITS]
here = os.path.dirname(os.path.abspath(__file__))
path = os.path.join(here, "..", "..", "tests", "fixtures", "gan_losses", "reference.json")
with open(path, "w") as f:
    json.dump({"made_with": "scripts/reference/gan_losses.py (torch " + torch.__version__ + ", float64)", "cases": cases}, f, indent=1)
    f.write("\n")
print("wrote", os.path.normpath(path))
