"""orbax checkpoints of carries that hold zero-size arrays (an MJX state of a model without actuator
states, e.g. Playground's DM Control tasks: `mjx.Data.act` has shape [0]), which orbax alone refuses
to save."""

import jax
import jax.numpy as jnp
import numpy as np

from softrl_jax.checkpoint import Manager, read_carry


def test_a_carry_with_zero_size_arrays_saves_restores_and_reads_back(tmp_path):
    carry = {"act": jnp.zeros((2, 0), jnp.float32), "qpos": jnp.arange(6.0).reshape(2, 3),
             "nested": {"empty": jnp.zeros((0,), jnp.int32), "step": jnp.asarray(7, jnp.int32)}}
    out = tmp_path / "run"
    manager = Manager(out / "checkpoints")
    manager.save(1, carry, {"next_chunk": 1})
    manager.wait()
    target = jax.tree.map(jnp.zeros_like, carry)
    restored, host = manager.restore(target)
    manager.close()
    assert host == {"next_chunk": 1}
    for got, want in zip(jax.tree.leaves(restored), jax.tree.leaves(carry), strict=True):
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    stored, _ = read_carry(out)  # without the program: the zero-size leaves were never written
    np.testing.assert_array_equal(stored["qpos"], np.arange(6.0).reshape(2, 3))
    assert int(stored["nested"]["step"]) == 7
