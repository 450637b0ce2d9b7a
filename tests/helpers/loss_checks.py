"""Shared by the loss tests: dtypes and seeds, tolerances, a random minibatch (logits, targets, embeddings,
proxies, weights), and the gradient checks (finite differences in float64; float32 gradients against float64)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from rdlr.targets import one_hot

DTYPES = [torch.float32, torch.float64]
SEEDS = [0, 1, 2]
M, C, E = 10, 4, 6


def tolerance(dtype: torch.dtype) -> dict[str, float]:
    return {"rtol": 1e-4, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-10}


def check_value(value: torch.Tensor, expected: float, dtype: torch.dtype) -> None:
    assert value.dim() == 0 and value.dtype == dtype
    torch.testing.assert_close(value, torch.tensor(expected, dtype=dtype), **tolerance(dtype))


def random_batch(seed: int, dtype: torch.dtype, m: int = M, missing_class: bool = False) -> dict[str, torch.Tensor]:
    """Logits, hard and soft targets, embeddings, proxies and weights of one minibatch; ``missing_class`` leaves
    the last class out of the labels."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, C - 1 if missing_class else C, (m,), generator=gen)
    labels[: min(m, C - 1)] = torch.arange(min(m, C - 1))  # make classes 0..C-2 present
    if not missing_class and m >= C:
        labels[C - 1] = C - 1
    soft = torch.softmax(torch.randn(m, C, generator=gen, dtype=torch.float64) * 2, 1)
    return {
        "labels": labels,
        "logits": (torch.randn(m, C, generator=gen, dtype=torch.float64) * 3).to(dtype),
        "soft": soft.to(dtype),
        "hard": one_hot(labels, C).to(dtype),
        "emb": torch.randn(m, E, generator=gen, dtype=torch.float64).to(dtype),
        "proxies": torch.randn(C, E, generator=gen, dtype=torch.float64).to(dtype),
        "class_w": (torch.rand(C, generator=gen, dtype=torch.float64) + 0.5).to(dtype),
        "sample_w": (torch.rand(m, generator=gen, dtype=torch.float64) * 2).to(dtype),
    }


def check_gradients(fn: Callable[..., torch.Tensor], inputs64: list[torch.Tensor]) -> None:
    """gradcheck in float64; float32 autograd gradients finite and equal to the float64 ones."""
    leaves64 = [x.detach().clone().requires_grad_() for x in inputs64]
    assert torch.autograd.gradcheck(fn, leaves64, eps=1e-6, atol=1e-6, rtol=1e-4)
    fn(*leaves64).backward()
    leaves32 = [x.detach().float().requires_grad_() for x in inputs64]
    fn(*leaves32).backward()
    for x32, x64 in zip(leaves32, leaves64):
        assert x32.grad is not None and bool(torch.isfinite(x32.grad).all())
        torch.testing.assert_close(x32.grad.double(), x64.grad, rtol=2e-3, atol=2e-4)
