import os

os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("WANDB_MODE", "offline")
# One CPU device for every in-process test, whichever test starts JAX first (the runner would split
# the host into one device per core: --cpu_devices). Subprocess tests choose their own.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=1")
