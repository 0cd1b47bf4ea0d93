"""Per-modality encoders: raw features ``[B, d_m]`` to tokens ``[B, P, H]``."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class PatchTokenizer(nn.Module):
    """Cut a modality's features into ``n_tokens`` patches and embed each one.

    The ``d`` features are zero-padded to ``n_tokens * ceil(d / n_tokens)``,
    split into ``n_tokens`` consecutive patches, and each patch is projected
    linearly to ``hidden_dim``. Every patch has its own projection, so that
    mean-pooling the tokens keeps the information of every feature. Patches
    past the last feature hold only padding (always when ``n_tokens > d``,
    and e.g. the last of four for ``d = 5``).

    Parameters
    ----------
    n_features : int
        Number of input features ``d``.
    n_tokens : int
        Number of patches / tokens ``P``.
    hidden_dim : int
        Token width ``H``.

    Examples
    --------
    >>> import torch
    >>> from sk_i2moe.nn import PatchTokenizer
    >>> PatchTokenizer(n_features=10, n_tokens=4, hidden_dim=16)(torch.randn(8, 10)).shape
    torch.Size([8, 4, 16])
    """

    def __init__(self, n_features: int, n_tokens: int, hidden_dim: int) -> None:
        super().__init__()
        self.n_tokens = n_tokens
        self.patch_len = math.ceil(n_features / n_tokens)
        self.pad = n_tokens * self.patch_len - n_features
        bound = 1.0 / math.sqrt(self.patch_len)
        self.weight = nn.Parameter(
            torch.empty(n_tokens, self.patch_len, hidden_dim).uniform_(-bound, bound)
        )
        self.bias = nn.Parameter(torch.empty(n_tokens, hidden_dim).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed ``x`` ``[B, d]`` into tokens ``[B, P, H]``."""
        patches = F.pad(x, (0, self.pad)).view(x.shape[0], self.n_tokens, self.patch_len)
        # every patch's projection in one batched kernel, [P, B, L] @ [P, L, H] + [P, 1, H]
        tokens = torch.baddbmm(self.bias.unsqueeze(1), patches.transpose(0, 1), self.weight)
        return tokens.transpose(0, 1)


class MLPEncoder(nn.Module):
    """Two-layer MLP giving one token per sample.

    Parameters
    ----------
    n_features : int
        Number of input features.
    hidden_dim : int
        Width of the hidden layer and of the token.

    Examples
    --------
    >>> import torch
    >>> from sk_i2moe.nn import MLPEncoder
    >>> MLPEncoder(n_features=10, hidden_dim=16)(torch.randn(8, 10)).shape
    torch.Size([8, 1, 16])
    """

    def __init__(self, n_features: int, hidden_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, hidden_dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed ``x`` ``[B, d]`` into one token ``[B, 1, H]``."""
        return self.net(x).unsqueeze(1)


ENCODERS = ("patch", "mlp")


def make_encoder(name: str, n_features: int, n_tokens: int, hidden_dim: int) -> nn.Module:
    """Build the encoder ``name`` (``"patch"`` or ``"mlp"``) for one modality.

    Parameters
    ----------
    name : str
        ``"patch"`` gives :class:`PatchTokenizer` with ``n_tokens`` tokens;
        ``"mlp"`` gives :class:`MLPEncoder` (one token, ``n_tokens`` ignored).
    n_features, n_tokens, hidden_dim : int
        See the encoder classes.

    Returns
    -------
    torch.nn.Module
    """
    if name == "patch":
        return PatchTokenizer(n_features, n_tokens, hidden_dim)
    if name == "mlp":
        return MLPEncoder(n_features, hidden_dim)
    raise ValueError(f"Unknown encoder {name!r}; expected one of {list(ENCODERS)}.")
