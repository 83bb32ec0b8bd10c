import os

os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("WANDB_MODE", "offline")
# One CPU device for every in-process test, whichever test starts JAX first (the runner would split
# the host into one device per core: --cpu_devices). Subprocess tests choose their own.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=1")
# On an NVIDIA GPU, XLA computes float32 matrix products in TF32 (10 mantissa bits) by default; the tests
# compare float32 networks with hand computations and recomputations at float32 tolerances, so they ask
# for full float32 products there. The CPU computes float32 products in full either way and is not touched.
if __import__("shutil").which("nvidia-smi"):
    os.environ.setdefault("JAX_DEFAULT_MATMUL_PRECISION", "highest")
