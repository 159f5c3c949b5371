"""tinygrad_lite: a small, readable deep-learning framework on numpy."""

__version__ = "0.1.0"

from . import data, functional, linalg, nn, onnx, optim, viz  # noqa: E402
from .autograd import (  # noqa: E402
    AnomalyError,
    Function,
    detect_anomaly,
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from .functional import grad  # noqa: E402
from .gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: E402
from .rng import default_generator, manual_seed  # noqa: E402
from .serialization import load, save  # noqa: E402
from .tensor import (  # noqa: E402
    Tensor,
    arange,
    bool_,
    concatenate,
    eye,
    float16,
    float32,
    float64,
    from_dlpack,
    full,
    int32,
    int64,
    ones,
    ones_like,
    rand,
    randn,
    stack,
    uniform,
    where,
    zeros,
    zeros_like,
)
from .threads import get_num_threads, num_threads, set_num_threads  # noqa: E402

__all__ = [
    "AnomalyError", "Function", "GradcheckError", "Tensor", "__version__", "arange", "bool_",
    "concatenate", "data", "default_generator", "detect_anomaly", "enable_grad", "eye", "float16",
    "float32", "float64", "from_dlpack", "full", "functional", "get_num_threads", "grad", "gradcheck",
    "gradgradcheck", "int32", "int64", "is_grad_enabled", "linalg", "load", "manual_seed", "nn",
    "no_grad", "num_threads", "ones", "ones_like", "onnx", "optim", "rand", "randn", "save",
    "set_grad_enabled", "set_num_threads", "stack", "uniform", "viz", "where", "zeros",
    "zeros_like",
]
