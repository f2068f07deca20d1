import os

import pytest
import torch

# Without a GPU the Triton kernels run in Triton's interpreter on the CPU, so the tests can hold
# them to their references anywhere. Triton reads this when a kernel is defined: set it before
# multigan is imported.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")


@pytest.fixture(autouse=True, scope="session")
def _multigan_cache(tmp_path_factory):
    """Keep cached classifiers in one temporary folder per test session, not in ~/.cache."""
    os.environ.setdefault("MULTIGAN_CACHE", str(tmp_path_factory.mktemp("multigan-cache")))
    yield


@pytest.fixture(autouse=True)
def _restore_rng():
    """Tests seed torch freely; give every test the same starting state."""
    torch.manual_seed(0)
    yield
