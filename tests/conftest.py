import os

os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("WANDB_MODE", "offline")
# One CPU device for every in-process test, whichever test starts JAX first (the runner would split
# the host into one device per core: --cpu_devices). Subprocess tests choose their own.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=1")
# One persistent compilation cache for the whole suite (both xdist workers and their subprocesses): many
# tests compile the same program (a module's trainer, rebuilt per test, traces to the same HLO), and a
# cached executable is the one XLA would compile again, so no number changes. Measured on 2 busy cores:
# tests/test_loop.py + test_obs_norm.py 189 s without, 152 s with. Runs with their own --compile_cache
# (or off) set it themselves.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                      os.path.join(__import__("tempfile").gettempdir(), f"softrl-jax-tests-{os.getuid()}", "jax-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
# On an NVIDIA GPU, XLA computes float32 matrix products in TF32 (10 mantissa bits) by default; the tests
# compare float32 networks with hand computations and recomputations at float32 tolerances, so they ask
# for full float32 products there. The CPU computes float32 products in full either way and is not touched.
if __import__("shutil").which("nvidia-smi"):
    os.environ.setdefault("JAX_DEFAULT_MATMUL_PRECISION", "highest")
