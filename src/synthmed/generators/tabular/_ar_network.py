"""The network and training loop of the neural autoregressive generator (PyTorch, CPU).

One network gives every conditional ``p(column j | the columns that are known)`` for any set of
known columns (an order-agnostic autoregressive model, Uria et al., 2014 "orderless NADE";
Hoogeboom et al., 2022 "ARDM"):

* each column's token goes through its own embedding; a column that is not known yet is
  replaced by the column's "hidden" embedding, so the network sees which columns are known;
* the concatenated embeddings go through a small residual MLP (GELU, dropout);
* one linear head per column (stored as one wide matrix) gives the logits of its tokens.

Training draws, for every row of a batch, how many columns are known (uniformly from 0 to
``d - 1``) and which: with probability :data:`FIXED_ORDER_SHARE` the first ones of the fixed
column order (the order used for unconditional sampling, so those conditionals get the most
training), otherwise a random subset (so that any conditioned columns can come first). The loss
is the mean cross-entropy over the hidden columns of a row, averaged over rows.

Everything random in training comes from explicit ``torch.Generator`` objects or from numpy;
weight initialisation and dropout use torch's global generator inside ``torch.random.fork_rng``,
seeded from the caller's numpy generator and restored on exit. Threads are set to
:data:`N_THREADS` for the duration of a call and restored afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
import math
import time
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["ArNet", "TrainConfig", "TrainResult", "sample_tokens",
           "torch_session", "train"]

#: CPU threads used while training or sampling. One: at these sizes (batches of at most 512
#: rows, 256 hidden units) a second thread gains little, and on a busy machine OpenMP's
#: spinning threads made each step 10-40 times slower (measured on a shared 2-core machine)
N_THREADS = 1
#: share of training rows whose known columns are a prefix of the fixed order
FIXED_ORDER_SHARE = 0.5
#: validation rows are repeated with different masks until there are about this many
VALIDATION_DRAWS = 2048
#: rows per forward pass when sampling: large enough for fast matrix products, small enough
#: that the chunk's hidden activations stay in memory (a few MB)
SAMPLE_CHUNK = 2_048


@contextmanager
def torch_session(seed: int | None = None) -> Iterator[None]:
    """Local torch state: two threads, and (with ``seed``) a forked, seeded global generator."""
    threads = torch.get_num_threads()
    torch.set_num_threads(N_THREADS)
    try:
        if seed is None:
            yield
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                yield
    finally:
        torch.set_num_threads(threads)


class ArNet(nn.Module):
    """Embeddings (one table per column, plus a "hidden" row) -> residual MLP -> column heads."""

    def __init__(self, vocab: list[int], embedding_dim: int, hidden_size: int,
                 n_layers: int, dropout: float) -> None:
        super().__init__()
        self.vocab = list(vocab)
        sizes = torch.tensor([v + 1 for v in vocab])  # + the hidden token
        self.register_buffer("offsets", torch.cumsum(sizes, 0) - sizes, persistent=False)
        self.register_buffer("hidden_token", torch.tensor(vocab), persistent=False)
        self.embed = nn.Embedding(int(sizes.sum()), embedding_dim)
        self.inp = nn.Linear(len(vocab) * embedding_dim, hidden_size)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden_size, hidden_size))
            for _ in range(n_layers - 1)
        )
        self.out_act = nn.Sequential(nn.GELU(), nn.Dropout(dropout))
        # one wide head, each column's logits padded to the largest vocabulary: one
        # cross-entropy call for all columns instead of a Python loop over them
        self.width = max(vocab)
        self.head = nn.Linear(hidden_size, len(vocab) * self.width)
        pad = torch.zeros(len(vocab), self.width)
        for j, v in enumerate(vocab):
            pad[j, v:] = -torch.inf
        self.register_buffer("pad", pad, persistent=False)

    def features(self, tokens: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        """Last hidden layer for ``tokens`` (rows x columns) where ``known`` (bool) is set."""
        x = torch.where(known, tokens, self.hidden_token) + self.offsets
        h = self.inp(self.embed(x).flatten(1))
        for block in self.blocks:
            h = h + block(h)
        return self.out_act(h)

    def logits(self, h: torch.Tensor, column: int) -> torch.Tensor:
        start = column * self.width
        rows = slice(start, start + self.vocab[column])
        return F.linear(h, self.head.weight[rows], self.head.bias[rows])

    def loss(self, tokens: torch.Tensor, known: torch.Tensor,
             scored: torch.Tensor | None = None) -> torch.Tensor:
        """Mean cross-entropy over each row's ``scored`` columns (default: the hidden ones)."""
        n, d = tokens.shape
        logits = self.head(self.features(tokens, known)).view(n, d, self.width) + self.pad
        per_col = F.cross_entropy(logits.view(n * d, self.width), tokens.view(-1),
                                  reduction="none").view(n, d)
        weight = (~known if scored is None else scored).float()
        return ((per_col * weight).sum(1) / weight.sum(1).clamp_min(1.0)).mean()


@dataclass(frozen=True)
class TrainConfig:
    embedding_dim: int
    hidden_size: int
    n_layers: int
    dropout: float
    learning_rate: float
    weight_decay: float
    batch_size: int
    max_epochs: int
    patience: int
    validation_fraction: float
    time_budget_s: float | None


@dataclass
class TrainResult:
    net: ArNet
    n_epochs: int
    best_epoch: int
    stopped_by: str
    history: list[tuple[float, float]] = field(default_factory=list)  # (train, validation)


def random_known(n: int, d: int, gen: torch.Generator,
                 fixed_share: float = FIXED_ORDER_SHARE) -> torch.Tensor:
    """Known-column masks: a fixed-order prefix or a random subset, of uniform size 0..d-1."""
    n_known = torch.randint(0, d, (n, 1), generator=gen)
    rank = torch.argsort(torch.rand(n, d, generator=gen), dim=1)
    fixed = torch.rand(n, 1, generator=gen) < fixed_share
    rank = torch.where(fixed, torch.arange(d).expand(n, d), rank)
    return rank < n_known


def train(tokens: np.ndarray, vocab: list[int], config: TrainConfig,
          rng: np.random.Generator) -> TrainResult:
    """Fit an :class:`ArNet` to ``tokens`` (rows x columns, int) with early stopping."""
    start = time.perf_counter()
    n, d = tokens.shape
    seed = int(rng.integers(2**62))
    with torch_session(seed):
        gen = torch.Generator().manual_seed(seed + 1)
        order = rng.permutation(n)
        n_val = max(1, round(config.validation_fraction * n)) if n >= 10 else 0
        data = torch.as_tensor(tokens, dtype=torch.long)
        train_x, val_x = data[order[n_val:]], data[order[:n_val]]
        if n_val:
            val_x = val_x.repeat(max(1, math.ceil(VALIDATION_DRAWS / n_val)), 1)
            # validation scores the next column of the fixed order given the ones before it:
            # an unbiased estimate of the negative log-likelihood that sampling follows
            n_known = torch.randint(0, d, (len(val_x), 1), generator=gen)
            val_known = torch.arange(d).expand(len(val_x), d) < n_known
            val_scored = torch.arange(d).expand(len(val_x), d) == n_known
        net = ArNet(vocab, config.embedding_dim, config.hidden_size, config.n_layers,
                    config.dropout)
        opt = torch.optim.AdamW(net.parameters(), lr=config.learning_rate,
                                weight_decay=config.weight_decay)
        batch = min(config.batch_size, len(train_x))
        best, best_state, best_epoch, stale = math.inf, None, 0, 0
        history: list[tuple[float, float]] = []
        stopped_by, epoch = "max_epochs", 0
        for epoch in range(1, config.max_epochs + 1):
            net.train()
            perm = torch.randperm(len(train_x), generator=gen)
            total = 0.0
            steps = max(1, len(train_x) // batch)  # drop the ragged last batch
            for step in range(steps):
                rows = train_x[perm[step * batch:(step + 1) * batch]]
                loss = net.loss(rows, random_known(len(rows), d, gen))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach())
            val = _validation_loss(net, val_x, val_known, val_scored) if n_val else total / steps
            history.append((total / steps, val))
            if val < best - 1e-4:
                best, best_epoch, stale = val, epoch, 0
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                stale += 1
            if stale >= config.patience:
                stopped_by = "early_stopping"
                break
            budget = config.time_budget_s
            if budget is not None and time.perf_counter() - start > budget:
                stopped_by = "time_budget"
                break
        if best_state is not None:
            net.load_state_dict(best_state)
        net.eval()
    return TrainResult(net, epoch, best_epoch, stopped_by, history)


def _validation_loss(net: ArNet, val_x: torch.Tensor, val_known: torch.Tensor,
                     val_scored: torch.Tensor) -> float:
    net.eval()
    with torch.no_grad():
        return float(net.loss(val_x, val_known, val_scored))


def sample_tokens(net: ArNet, tokens: np.ndarray, known: np.ndarray,
                  rng: np.random.Generator,
                  missing_with: Sequence[int] | None = None) -> np.ndarray:
    """Fill the unknown entries of ``tokens`` column by column, in the fixed column order.

    ``missing_with[j]``: an earlier column missing on exactly the rows where column ``j`` is
    in training (-1: none); ``j`` is then drawn missing where that column was, and among its
    values where it was not (a missing value is each column's last token).

    The first layer is linear in the embeddings, so each column's contribution to it is
    precomputed once per token (a table of ``vocab x hidden``); revealing a column then adds
    one row of that table instead of recomputing the whole first layer. The random numbers
    are drawn per chunk of :data:`SAMPLE_CHUNK` rows, so the result depends only on ``rng``
    and the inputs, not on how the work is split.
    """
    tokens = tokens.copy()
    n, d = tokens.shape
    with torch.no_grad():
        tables = _first_layer_tables(net)
        heads = [(net.head.weight[j * net.width:j * net.width + v],
                  net.head.bias[j * net.width:j * net.width + v])
                 for j, v in enumerate(net.vocab)]
        for start in range(0, n, SAMPLE_CHUNK):
            rows = slice(start, min(start + SAMPLE_CHUNK, n))
            u = torch.from_numpy(rng.random((rows.stop - start, d)))
            chunk = torch.as_tensor(tokens[rows], dtype=torch.long)
            mask = torch.as_tensor(known[rows])
            shown = torch.where(mask, chunk, net.hidden_token)
            pre = net.inp.bias + sum(tables[j][shown[:, j]] for j in range(d))
            for j in range(d):
                todo = ~mask[:, j]
                if not todo.any():
                    continue
                every = bool(todo.all())  # unconditional sampling: no row selection needed
                h = pre if every else pre[todo]
                for block in net.blocks:
                    h = h + block(h)
                probs = torch.softmax(F.linear(net.out_act(h), *heads[j]), dim=1).double()
                lead = -1 if missing_with is None else missing_with[j]
                if lead >= 0:
                    gone = chunk[:, lead] == net.vocab[lead] - 1
                    gone = (gone if every else gone[todo]).unsqueeze(1)
                    last = torch.zeros_like(probs)
                    last[:, -1] = 1.0
                    probs = torch.where(gone, last, probs * (1.0 - last))
                cdf = torch.cumsum(probs, dim=1)
                target = (u[:, j] if every else u[todo, j]).unsqueeze(1) * cdf[:, -1:]
                drawn = torch.searchsorted(cdf, target, right=True).squeeze(1)
                drawn = drawn.clamp_(max=net.vocab[j] - 1)
                # reveal column j: swap its "hidden" contribution for the drawn token's
                change = tables[j][drawn] - tables[j][net.vocab[j]]
                if every:
                    chunk[:, j] = drawn
                    pre += change
                else:
                    chunk[todo, j] = drawn
                    pre[todo] += change
            tokens[rows] = chunk.numpy()
    return tokens


def _first_layer_tables(net: ArNet) -> list[torch.Tensor]:
    """Per column, each token's (and the hidden token's) contribution to the first layer."""
    dim = net.embed.embedding_dim
    tables = []
    for j, v in enumerate(net.vocab):
        offset = int(net.offsets[j])
        embedding = net.embed.weight[offset:offset + v + 1]
        tables.append(embedding @ net.inp.weight[:, j * dim:(j + 1) * dim].T)
    return tables


def state_arrays(net: ArNet) -> dict[str, np.ndarray]:
    """The weights as float32 arrays (no pickle, no ``torch.save``)."""
    return {k: v.detach().numpy().astype(np.float32) for k, v in net.state_dict().items()}


def net_from_arrays(arch: dict[str, Any], arrays: dict[str, np.ndarray]) -> ArNet:
    net = ArNet([int(v) for v in arch["vocab"]], int(arch["embedding_dim"]),
                int(arch["hidden_size"]), int(arch["n_layers"]), 0.0)
    expected = net.state_dict()
    if set(arrays) != set(expected):
        raise ValueError("the network weights do not match the architecture")
    state = {}
    for key, ref in expected.items():
        value = torch.from_numpy(np.ascontiguousarray(arrays[key], dtype=np.float32))
        if value.shape != ref.shape:
            raise ValueError(f"weight {key!r} has shape {tuple(value.shape)}, "
                             f"expected {tuple(ref.shape)}")
        state[key] = value
    net.load_state_dict(state)
    net.eval()
    return net
