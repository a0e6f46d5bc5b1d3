#!/usr/bin/env python3
"""Reference values for RelGAN's relational memory core
(plugins/relgan/src/relational_memory.rs).

Writes tests/fixtures/relational_memory/reference.json: the weights of a
small core (input 3, two slots, two heads of 2: slots of 4 values), two
rows of inputs, and the memory after the initial state (Sonnet's: an
identity padded with zeros) and after two steps, computed by PyTorch in
float64 from the equations of Sonnet's `RelationalMemory`
(sonnet/python/modules/relational_memory.py), which RelGAN's code uses:

    x       = W_in input + b_in                                  (one row)
    M+      = [M; x]                                             (slots + 1 rows)
    qkv     = LN(W_qkv M+ + b_qkv)          per row; heads split as [q k v]
    A       = softmax(q k^T / sqrt(head)) v                       per head
    M1      = LN(M+ + A)
    M2      = LN(M1 + W_2 relu(W_1 M1 + b_1) + b_2)              no final ReLU
    C       = M2[:slots]
    i, f    = split(W_m tanh(M) + b_m + W_x x + b_x)             per slot
    M'      = sigmoid(i) * tanh(C) + sigmoid(f + 1) * M

LN is a layer norm over each row's features (eps 1e-5) with its own scale
and shift. Weights are drawn from torch's generator seeded 7, scales and
shifts of the layer norms included (so they are tested too).

    /work/torchenv/bin/python scripts/reference/relational_memory.py

(torch 2.15.0, float64.)
"""
import json
import os

import torch

torch.manual_seed(7)
INPUT, SLOTS, HEADS, HEAD = 3, 2, 2, 2
SIZE = HEADS * HEAD
ROWS = 2


def param(*shape):
    return torch.randn(*shape, dtype=torch.float64) * 0.5


weights = {
    "input_projection.weight": param(SIZE, INPUT),
    "input_projection.bias": param(SIZE),
    "qkv.weight": param(3 * SIZE, SIZE),
    "qkv.bias": param(3 * SIZE),
    "qkv_norm.weight": 1.0 + param(3 * SIZE),
    "qkv_norm.bias": param(3 * SIZE),
    "attention_norm.weight": 1.0 + param(SIZE),
    "attention_norm.bias": param(SIZE),
    "mlp.0.weight": param(SIZE, SIZE),
    "mlp.0.bias": param(SIZE),
    "mlp.1.weight": param(SIZE, SIZE),
    "mlp.1.bias": param(SIZE),
    "mlp_norm.weight": 1.0 + param(SIZE),
    "mlp_norm.bias": param(SIZE),
    "input_gate.weight": param(2 * SIZE, SIZE),
    "input_gate.bias": param(2 * SIZE),
    "memory_gate.weight": param(2 * SIZE, SIZE),
    "memory_gate.bias": param(2 * SIZE),
}
inputs = [torch.randn(ROWS, INPUT, dtype=torch.float64) for _ in range(2)]


def linear(name, x):
    return x @ weights[name + ".weight"].T + weights[name + ".bias"]


def layer_norm(name, x):
    return torch.nn.functional.layer_norm(
        x, (x.shape[-1],), weights[name + ".weight"], weights[name + ".bias"], 1e-5
    )


def attend(x):
    rows, positions, _ = x.shape
    qkv = layer_norm("qkv_norm", linear("qkv", x))
    qkv = qkv.view(rows, positions, HEADS, 3 * HEAD).permute(0, 2, 1, 3)
    q, k, v = torch.split(qkv, [HEAD, HEAD, HEAD], -1)
    weights_ = torch.softmax((q * HEAD ** -0.5) @ k.transpose(-1, -2), -1)
    return (weights_ @ v).permute(0, 2, 1, 3).reshape(rows, positions, SIZE)


def step(memory, inp):
    x = linear("input_projection", inp).unsqueeze(1)
    both = torch.cat([memory, x], 1)
    both = layer_norm("attention_norm", both + attend(both))
    mlp = linear("mlp.1", torch.relu(linear("mlp.0", both)))
    both = layer_norm("mlp_norm", both + mlp)
    candidate = both[:, :SLOTS]
    gates = linear("memory_gate", torch.tanh(memory)) + linear("input_gate", x)
    i, f = torch.split(gates, SIZE, 2)
    return torch.sigmoid(i) * torch.tanh(candidate) + torch.sigmoid(f + 1.0) * memory


initial = torch.zeros(ROWS, SLOTS, SIZE, dtype=torch.float64)
for s in range(min(SLOTS, SIZE)):
    initial[:, s, s] = 1.0
memories = []
memory = initial
for inp in inputs:
    memory = step(memory, inp)
    memories.append(memory.reshape(ROWS, -1).tolist())

out = {
    "made_by": "scripts/reference/relational_memory.py, torch " + torch.__version__ + ", float64",
    "input": INPUT,
    "slots": SLOTS,
    "heads": HEADS,
    "head_size": HEAD,
    "weights": {name: {"shape": list(w.shape), "values": w.flatten().tolist()} for name, w in weights.items()},
    "inputs": [i.tolist() for i in inputs],
    "initial": initial.reshape(ROWS, -1).tolist(),
    "memories": memories,
}
path = os.path.join(os.path.dirname(__file__), "../../tests/fixtures/relational_memory/reference.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", os.path.normpath(path))
