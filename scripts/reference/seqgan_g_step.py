#!/usr/bin/env python3
"""An independent reference for one SeqGAN g-step, from the paper's equations.

Writes tests/fixtures/g_step/{weights.safetensors,reference.json}, which
tests/g_step_reference.rs checks agon against: the Monte-Carlo rollout
Q-values of the host's scheduler, the generator's MLE and policy-gradient
losses, gradient norms and Adam updates, and the rollout policy's update.

Everything here is float64 numpy written from Yu et al. (AAAI 2017) and the
paper's TensorFlow code, sharing nothing with agon but the weights:

* the generator: embedding -> LSTM (SeqGAN's gates: i, f, o sigmoid, the
  cell candidate tanh, h = o * tanh(c)) -> softmax; the first input is the
  embedding of the start token, the state starts at zero;
* Q-values (paper, eq. 4): for a sample y of length T and t < T,
  Q(y_1..t) = E over completions y_t+1..T drawn from the rollout policy of
  R(y_1..T); Q at t = T is R(y). Here the expectation is exact: with a
  vocabulary of 6 and length 4, every completion is enumerated with its
  probability. The test allows the scheduler's Monte-Carlo mean its
  sampling error (the standard deviation of R under the completion
  distribution is recorded with each Q);
* the reward R: a fixed formula of the tokens, the fixture plugin
  `fixture/formula-reward` (tests/fixtures/formula-reward):
  R(y) = ((sum_t (t + 1) * y_t) mod 7) / 6, t from 0;
* the MLE loss: mean over tokens of -log G(y_t | y_<t);
* the policy-gradient loss (paper, eq. 6 and 8, averaged over the batch):
  -(1/B) sum_b sum_t Q(b, t) log G(y_b,t | y_b,<t);
* gradients by central finite differences of the float64 loss (no
  autograd to share a bug with), clipped to a global norm of 5;
* Adam as TensorFlow's AdamOptimizer (the paper's code):
  lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t), theta -= lr_t * m / (sqrt(v) + eps),
  and, as in the paper's code, one Adam for MLE steps and a second one,
  with its own moments, for policy-gradient steps;
* the rollout policy's update (the paper's code, rollout.py):
  theta_rollout = r * theta_rollout + (1 - r) * theta, r = 0.8.

Run from the repository root: python3 scripts/reference/seqgan_g_step.py
(numpy only). The output is deterministic.
"""

import itertools
import json
import os
import struct

import numpy as np

V, E, H, T = 6, 3, 4, 4  # vocabulary, embedding, hidden, sequence length
BOS = 0
LR, BETA1, BETA2, EPS = 0.01, 0.9, 0.999, 1e-4  # eps large: see the test
CLIP = 5.0
ROLLOUT_RATE = 0.8
GATES = ["input_gate", "forget_gate", "cell_candidate", "output_gate"]
OUT_DIR = os.path.join("tests", "fixtures", "g_step")


def reward(seq):
    return (sum((t + 1) * y for t, y in enumerate(seq)) % 7) / 6.0


def initial_weights():
    rng = np.random.default_rng(20261202)
    w = {"embedding": rng.normal(0, 0.5, (V, E))}
    for g in GATES:
        w[f"lstm.{g}.W"] = rng.normal(0, 0.5, (E, H))
        w[f"lstm.{g}.U"] = rng.normal(0, 0.5, (H, H))
        w[f"lstm.{g}.b"] = rng.normal(0, 0.5, (H,))
    w["output.W"] = rng.normal(0, 0.5, (H, V))
    w["output.b"] = rng.normal(0, 0.5, (V,))
    # Stored as float32: both sides start from exactly these numbers.
    return {k: v.astype(np.float32).astype(np.float64) for k, v in w.items()}


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def step(w, token, h, c):
    x = w["embedding"][token]

    def gate(g):
        return x @ w[f"lstm.{g}.W"] + h @ w[f"lstm.{g}.U"] + w[f"lstm.{g}.b"]

    i = sigmoid(gate("input_gate"))
    f = sigmoid(gate("forget_gate"))
    o = sigmoid(gate("output_gate"))
    c_new = f * c + i * np.tanh(gate("cell_candidate"))
    h_new = o * np.tanh(c_new)
    logits = h_new @ w["output.W"] + w["output.b"]
    logits = logits - logits.max()
    log_probs = logits - np.log(np.exp(logits).sum())
    return log_probs, h_new, c_new


def token_log_probs(w, seq):
    """log G(y_t | y_<t) for every t."""
    h, c = np.zeros(H), np.zeros(H)
    out, prev = [], BOS
    for y in seq:
        lp, h, c = step(w, prev, h, c)
        out.append(lp[y])
        prev = y
    return np.array(out)


def exact_q(w, seq):
    """Q(y_1..t) for t = 1..T and the standard deviation of R behind it."""
    q, std = [], []
    for t in range(1, T):
        prefix = list(seq[:t])
        mean = second = 0.0
        for tail in itertools.product(range(V), repeat=T - t):
            full = prefix + list(tail)
            p = np.exp(token_log_probs(w, full)[t:].sum())
            r = reward(full)
            mean += p * r
            second += p * r * r
        q.append(mean)
        std.append(np.sqrt(max(second - mean * mean, 0.0)))
    q.append(reward(seq))
    std.append(0.0)
    return q, std


def mle_loss(w, batch):
    return -np.mean([token_log_probs(w, s) for s in batch])


def pg_loss(w, batch, q):
    total = sum((token_log_probs(w, s) * np.array(qs)).sum() for s, qs in zip(batch, q))
    return -total / len(batch)


def gradient(loss, w, h=1e-6):
    grads = {}
    for k, v in w.items():
        g = np.zeros_like(v)
        for idx in np.ndindex(v.shape):
            old = v[idx]
            v[idx] = old + h
            up = loss(w)
            v[idx] = old - h
            down = loss(w)
            v[idx] = old
            g[idx] = (up - down) / (2 * h)
        grads[k] = g
    return grads


class Adam:
    def __init__(self, w):
        self.m = {k: np.zeros_like(v) for k, v in w.items()}
        self.v = {k: np.zeros_like(v) for k, v in w.items()}
        self.t = 0

    def apply(self, w, grads):
        self.t += 1
        lr_t = LR * np.sqrt(1 - BETA2**self.t) / (1 - BETA1**self.t)
        for k in w:
            self.m[k] = BETA1 * self.m[k] + (1 - BETA1) * grads[k]
            self.v[k] = BETA2 * self.v[k] + (1 - BETA2) * grads[k] ** 2
            w[k] = w[k] - lr_t * self.m[k] / (np.sqrt(self.v[k]) + EPS)


def clipped(grads):
    norm = np.sqrt(sum((g**2).sum() for g in grads.values()))
    scale = CLIP / norm if norm > CLIP else 1.0
    return {k: g * scale for k, g in grads.items()}, norm


def fused(w):
    """agon's layout: gates fused in the order i, f, g, o (oracle README)."""
    return {
        "embedding": w["embedding"],
        "lstm.w_ih": np.concatenate([w[f"lstm.{g}.W"].T for g in GATES]),
        "lstm.w_hh": np.concatenate([w[f"lstm.{g}.U"].T for g in GATES]),
        "lstm.bias": np.concatenate([w[f"lstm.{g}.b"] for g in GATES]),
        "output.weight": w["output.W"].T,
        "output.bias": w["output.b"],
    }


def as_lists(w):
    return {k: np.asarray(v).ravel().tolist() for k, v in fused(w).items()}


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        data = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        header[name] = {
            "dtype": "F32",
            "shape": list(tensors[name].shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    meta = json.dumps(header, separators=(",", ":")).encode()
    meta += b" " * (-len(meta) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(meta)))
        f.write(meta)
        for blob in blobs:
            f.write(blob)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    w = initial_weights()
    write_safetensors(os.path.join(OUT_DIR, "weights.safetensors"), w)
    rollout = {k: v.copy() for k, v in w.items()}

    samples = [[1, 4, 2, 5], [3, 3, 0, 1], [5, 2, 4, 4]]
    q_and_std = [exact_q(rollout, s) for s in samples]
    q = [qs for qs, _ in q_and_std]

    mle_batch = [[2, 5, 1, 3], [4, 0, 3, 2], [1, 1, 5, 0], [3, 4, 2, 2]]
    pg_batches = [samples, [[2, 2, 1, 5], [0, 3, 4, 1], [4, 5, 5, 3]]]
    pg_q = [q, [exact_q(rollout, s)[0] for s in pg_batches[1]]]

    mle_adam, adversarial_adam = Adam(w), Adam(w)
    steps = []

    def record(kind, batch, loss, norm, extra=None):
        entry = {"kind": kind, "batch": batch, "loss": loss, "grad_norm": norm}
        entry.update(extra or {})
        entry["params"] = as_lists(w)
        steps.append(entry)

    for _ in range(2):
        loss = mle_loss(w, mle_batch)
        grads, norm = clipped(gradient(lambda p: mle_loss(p, mle_batch), w))
        mle_adam.apply(w, grads)
        record("mle", mle_batch, loss, norm)
    for batch, qs in zip(pg_batches, pg_q):
        loss = pg_loss(w, batch, qs)
        grads, norm = clipped(gradient(lambda p: pg_loss(p, batch, qs), w))
        adversarial_adam.apply(w, grads)
        record("policy_gradient", batch, loss, norm, {"q": qs})

    rollout = {k: ROLLOUT_RATE * rollout[k] + (1 - ROLLOUT_RATE) * w[k] for k in w}

    reference = {
        "made_by": "python3 scripts/reference/seqgan_g_step.py (numpy "
        + np.__version__
        + ", float64)",
        "vocab_size": V,
        "embedding_dim": E,
        "hidden_dim": H,
        "max_len": T,
        "bos": BOS,
        "adam": {"lr": LR, "beta1": BETA1, "beta2": BETA2, "eps": EPS},
        "grad_clip": CLIP,
        "rollout_update_rate": ROLLOUT_RATE,
        "samples": samples,
        "q": q,
        "q_std": [s for _, s in q_and_std],
        "steps": steps,
        "rollout_after_update": as_lists(rollout),
    }
    with open(os.path.join(OUT_DIR, "reference.json"), "w") as f:
        json.dump(reference, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
