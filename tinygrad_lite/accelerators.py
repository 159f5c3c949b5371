"""PyTorch's accelerator queries, answered truthfully: numpy runs on the CPU, so no CUDA or MPS
device is ever available. Lets device-selecting PyTorch code (`torch.cuda.is_available()`,
`torch.backends.mps.is_available()`) run unchanged and pick "cpu".

>>> import tinygrad_lite as tg
>>> tg.cuda.is_available(), tg.cuda.device_count(), tg.backends.mps.is_available()
(False, 0, False)
"""

from __future__ import annotations

from types import SimpleNamespace


def _false() -> bool:
    """No such device here: tinygrad_lite computes with numpy on the CPU."""
    return False


def _zero() -> int:
    """No such device here."""
    return 0


cuda = SimpleNamespace(is_available=_false, device_count=_zero)
backends = SimpleNamespace(mps=SimpleNamespace(is_available=_false, is_built=_false),
                           cuda=SimpleNamespace(is_built=_false))
