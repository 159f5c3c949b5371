"""tinygrad_lite: a small, readable deep-learning framework on numpy."""

__version__ = "0.1.0"

from .autograd import (  # noqa: E402
    AnomalyError, Function, detect_anomaly, enable_grad, is_grad_enabled, no_grad, set_grad_enabled,
)
from .functional import grad  # noqa: E402
from .gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: E402
from .rng import default_generator, manual_seed  # noqa: E402
from .tensor import (  # noqa: E402
    Tensor, arange, bool_, concatenate, eye, float16, float32, float64, full, int32, int64, ones,
    ones_like, rand, randn, stack, uniform, where, zeros, zeros_like,
)

from . import functional  # noqa: E402,F401  (tinygrad_lite.functional.jacobian/hessian/hvp)
from . import data  # noqa: E402,F401  (Dataset, DataLoader, mnist, pima, load_csv)
from . import linalg  # noqa: E402,F401  (strassen_matmul)
from . import viz  # noqa: E402,F401  (draw_graph, save; imports graphviz only when drawing)

__all__ = [
    "AnomalyError", "Function", "GradcheckError", "Tensor", "__version__", "arange", "bool_",
    "concatenate", "default_generator", "detect_anomaly", "enable_grad", "eye", "float16", "float32",
    "float64", "full", "functional", "grad", "gradcheck", "gradgradcheck", "int32", "int64",
    "is_grad_enabled", "manual_seed", "no_grad", "ones", "ones_like", "rand", "randn",
    "set_grad_enabled", "stack", "uniform", "where", "zeros", "zeros_like",
]
