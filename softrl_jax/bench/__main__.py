"""python -m softrl_jax.bench"""

import sys

from softrl_jax.bench import main

sys.exit(main())
