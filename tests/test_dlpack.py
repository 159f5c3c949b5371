"""DLPack: Tensor.__dlpack__ / __dlpack_device__ and tg.from_dlpack, zero-copy with numpy and
PyTorch. Shared memory is shown by a write through the foreign array (our own in-place operations
never write into an array, so the other direction is checked by addresses and np.shares_memory)."""

import numpy as np
import pytest

import tinygrad_lite as tg
from tinygrad_lite import Tensor


def test_dlpack_from_numpy_shares_memory():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = tg.from_dlpack(a)
    assert isinstance(t, Tensor) and t.shape == (2, 3) and t.dtype == np.float32
    a[1, 2] = -5.0  # a write through the producer shows in ours
    assert t.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, -5.0]]
    assert (t * 2).tolist()[1][2] == -10.0


def test_dlpack_to_numpy_is_a_read_only_view_of_ours():
    t = Tensor([[1.0, 2.0], [3.0, 4.0]])
    a = np.from_dlpack(t)
    assert np.shares_memory(a, t.numpy()) and not a.flags.writeable
    assert t.__dlpack_device__() == (1, 0)
    np.testing.assert_array_equal(a, [[1.0, 2.0], [3.0, 4.0]])
    t[0, 0] = 10.0  # ours changes by rebinding (never writing into an array others may hold)
    assert t.tolist()[0][0] == 10.0 and a[0, 0] == 1.0


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "uint8", "bool"])
def test_dlpack_with_torch_both_ways_zero_copy(dtype):
    torch = pytest.importorskip("torch")
    source = torch.arange(12).reshape(3, 4) % 3 == 1 if dtype == "bool" else \
        torch.arange(12).reshape(3, 4).to(getattr(torch, dtype))
    t = tg.from_dlpack(source)
    assert t.dtype == np.dtype(dtype) and t.shape == (3, 4)
    np.testing.assert_array_equal(t.numpy(), source.numpy())
    source[2, 3] = 0 if dtype != "bool" else True  # a write through PyTorch shows in ours
    assert t.numpy()[2, 3] == source[2, 3].item()

    back = torch.from_dlpack(t)  # ours -> PyTorch: the same memory
    assert back.data_ptr() == source.data_ptr()
    ours = Tensor(np.linspace(0, 1, 5, dtype=np.float32))
    theirs = torch.from_dlpack(ours)
    assert theirs.data_ptr() == ours.numpy().ctypes.data
    assert theirs.tolist() == ours.tolist()


def test_dlpack_non_contiguous_and_0d_and_empty():
    torch = pytest.importorskip("torch")
    base = torch.arange(20.0).reshape(4, 5)
    view = base[:, ::2].T  # strided
    t = tg.from_dlpack(view)
    np.testing.assert_array_equal(t.numpy(), view.numpy())
    base[0, 2] = 100.0
    assert t.numpy()[1, 0] == 100.0
    assert tg.from_dlpack(torch.tensor(3.5)).item() == 3.5
    assert tg.from_dlpack(torch.zeros(0, 3)).shape == (0, 3)
    assert torch.from_dlpack(Tensor(np.zeros((2, 0)))).shape == (2, 0)


def test_dlpack_result_takes_part_in_autograd():
    torch = pytest.importorskip("torch")
    w = tg.from_dlpack(torch.tensor([1.0, -2.0, 3.0])).requires_grad_()
    (w * w).sum().backward()
    assert w.grad.tolist() == [2.0, -4.0, 6.0]


def test_dlpack_refusals():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="DLPack producer"):
        tg.from_dlpack([1.0, 2.0])
    with pytest.raises(BufferError, match="(?i)grad"):  # PyTorch's own refusal, passed on
        tg.from_dlpack(torch.ones(2, requires_grad=True))

    class OnGpu:
        def __dlpack_device__(self):
            return (2, 0)  # kDLCUDA

        def __dlpack__(self, **kwargs):  # pragma: no cover - never reached
            raise AssertionError("from_dlpack must check the device first")

    with pytest.raises(BufferError, match="CPU"):
        tg.from_dlpack(OnGpu())
