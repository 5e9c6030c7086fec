"""`ArchMLP`: HAT's arch-level latency MLP (ReLU layers, MSE on normalised latency, Adam, random batches).

Defaults are HAT's recipe: 3 hidden layers of 400 after the first, Adam lr 1e-5, 5,000 steps of batch
128. Features are divided by their training maxima and latency by its training maximum (HAT uses fixed
per-space constants for the same purpose). Trained with torch; predicted with numpy, weights in JSON.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from hwnas.predictors._base import Predictor, as_matrix, check_fit_data, register_predictor


@register_predictor("arch-mlp")
class ArchMLP(Predictor):
    def __init__(self, hidden_dim: int = 400, hidden_layers: int = 3, lr: float = 1e-5, steps: int = 5000,
                 batch_size: int = 128, seed: int = 0) -> None:
        if hidden_dim < 1 or hidden_layers < 0 or steps < 1 or batch_size < 1 or lr <= 0:
            raise ValueError("ArchMLP needs hidden_dim ≥ 1, hidden_layers ≥ 0, steps ≥ 1, batch_size ≥ 1, lr > 0")
        self.hidden_dim, self.hidden_layers, self.lr = hidden_dim, hidden_layers, lr
        self.steps, self.batch_size, self.seed = steps, batch_size, seed
        self.feature_scale_: np.ndarray | None = None
        self.target_scale_: float = 1.0
        self.layers_: list[tuple[np.ndarray, np.ndarray]] = []

    def fit(self, X: ArrayLike, y: ArrayLike) -> ArchMLP:
        import torch  # heavy: predictors load without torch (`hwnas devices`), only this one computes with it

        matrix, target = check_fit_data(X, y)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # small dense layers: threads only add synchronisation
        try:
            self._train(torch, matrix, target)
        finally:
            torch.set_num_threads(threads)
        return self

    def _train(self, torch, matrix: np.ndarray, target: np.ndarray) -> None:  # noqa: ANN001 - the torch module
        scale = np.abs(matrix).max(axis=0)
        scale[scale == 0] = 1.0
        self.feature_scale_, self.target_scale_ = scale, float(target.max())
        generator = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)
        widths = [matrix.shape[1]] + [self.hidden_dim] * (self.hidden_layers + 1)
        modules: list[torch.nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            modules += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        net = torch.nn.Sequential(*modules, torch.nn.Linear(widths[-1], 1))
        optimizer = torch.optim.Adam(net.parameters(), lr=self.lr)
        inputs = torch.tensor(matrix / scale, dtype=torch.float32)
        labels = torch.tensor(target / self.target_scale_, dtype=torch.float32)
        batch = min(self.batch_size, len(labels))
        for _ in range(self.steps):
            index = torch.randperm(len(labels), generator=generator)[:batch]
            loss = torch.mean((net(inputs[index]).squeeze(-1) - labels[index]) ** 2)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        linears = [m for m in net if isinstance(m, torch.nn.Linear)]
        self.layers_ = [(m.weight.detach().double().numpy().T.copy(), m.bias.detach().double().numpy().copy()) for m in linears]

    def predict(self, X: ArrayLike) -> np.ndarray:
        if not self.layers_ or self.feature_scale_ is None:
            raise RuntimeError("ArchMLP.predict called before fit")
        hidden = as_matrix(X) / self.feature_scale_
        for i, (weight, bias) in enumerate(self.layers_):
            hidden = hidden @ weight + bias
            if i < len(self.layers_) - 1:
                np.maximum(hidden, 0, out=hidden)
        return hidden[:, 0] * self.target_scale_

    def _state(self) -> dict[str, Any]:
        if not self.layers_ or self.feature_scale_ is None:
            raise RuntimeError("cannot save an unfitted ArchMLP")
        return {"hidden_dim": self.hidden_dim, "hidden_layers": self.hidden_layers, "lr": self.lr, "steps": self.steps,
                "batch_size": self.batch_size, "seed": self.seed, "feature_scale": self.feature_scale_.tolist(),
                "target_scale": self.target_scale_, "layers": [[w.tolist(), b.tolist()] for w, b in self.layers_]}

    @classmethod
    def _from_state(cls, state: dict[str, Any]) -> ArchMLP:
        model = cls(int(state["hidden_dim"]), int(state["hidden_layers"]), float(state["lr"]), int(state["steps"]),
                    int(state["batch_size"]), int(state["seed"]))
        model.feature_scale_ = np.asarray(state["feature_scale"], dtype=np.float64)
        model.target_scale_ = float(state["target_scale"])
        model.layers_ = [(np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64)) for w, b in state["layers"]]
        return model
