"""The train state: one pytree that holds everything needed to continue a run bit for bit.

`TrainState` is deliberately family-agnostic. A single-network model keeps one params tree and one optax
transformation; a two-player model (a GAN) keeps a dict of params keyed by player and a dict of optax
transformations with the same keys; an EM-fitted model keeps its parameters and no optimizer at all.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

import flax.struct
import jax
import jax.numpy as jnp
import optax


def _is_tx_dict(tx) -> bool:
    return isinstance(tx, Mapping)


class TrainState(flax.struct.PyTreeNode):
    """Params, optimizer state, step, base PRNG key, optional EMA params and non-trainable model state.

    Attributes:
      step: int32 scalar, the number of completed train steps.
      params: any pytree. Two-player models use a dict keyed by player, e.g. {'generator', 'discriminator'}.
      opt_state: optax state matching `tx` (a dict keyed like `tx` when `tx` is a dict).
      rng: the run's base key. The engine hands step `s` the key `jax.random.fold_in(rng, s)`.
      model_state: non-trainable collections (e.g. {'batch_stats': ...}); for two players, keyed by player.
      ema_params: exponential moving average of `params`, or None when EMA is off.
      extra: any other state a family carries (an image pool of past fakes, environment states, observation
        normalisers, counters): a pytree, checkpointed and restored with the rest. Families may instead
        subclass TrainState with fields of their own; the whole pytree is checkpointed either way.
      tx: (static) an optax transformation, a dict of them keyed like `params`, or None.
      ema_decay: (static) the EMA decay, or None.
    """

    step: jax.Array
    params: Any
    opt_state: Any
    rng: jax.Array
    model_state: Any = None
    ema_params: Any = None
    extra: Any = None
    tx: Any = flax.struct.field(pytree_node=False, default=None)
    ema_decay: Optional[float] = flax.struct.field(pytree_node=False, default=None)

    @classmethod
    def create(cls, *, params, tx, rng, model_state=None, ema_decay: Optional[float] = None, extra=None,
               **fields) -> "TrainState":
        """Builds a state at step 0; optimizer states are initialised per player when `tx` is a dict.

        `fields` are the extra fields of a subclass (e.g. `pool=...`)."""
        if tx is None:
            opt_state = None
        elif _is_tx_dict(tx):
            missing = set(tx) - set(params)
            if missing:
                raise ValueError(f"optimizers given for players {sorted(missing)} that have no params; "
                                 f"params has {sorted(params)}")
            opt_state = {name: t.init(params[name]) for name, t in tx.items()}
        else:
            opt_state = tx.init(params)
        # A real copy: an EMA that aliased the params buffers would be donated twice by the compiled step.
        ema_params = jax.tree.map(lambda p: jnp.array(p, copy=True), params) if ema_decay else None
        return cls(step=jnp.zeros((), jnp.int32), params=params, opt_state=opt_state, rng=rng,
                   model_state=model_state, ema_params=ema_params, extra=extra, tx=tx, ema_decay=ema_decay,
                   **fields)

    def apply_gradients(self, grads, player: Optional[str] = None, model_state=None) -> "TrainState":
        """One optimizer update of all params (player=None) or of one player's params; `step` is unchanged.

        Args:
          grads: gradients shaped like `params` (player=None) or like `params[player]`.
          player: key into the params/tx dicts for two-player states.
          model_state: new non-trainable state for that player (or the whole model), if any.
        """
        if self.tx is None:
            raise ValueError("this TrainState has no optimizer (tx=None): update its params with .replace()")
        if player is None:
            if _is_tx_dict(self.tx):
                raise ValueError("this TrainState has one optimizer per player "
                                 f"{sorted(self.tx)}: pass player=...")
            updates, opt_state = self.tx.update(grads, self.opt_state, self.params)
            params = optax.apply_updates(self.params, updates)
            new = self.replace(params=params, opt_state=opt_state)
            return new if model_state is None else new.replace(model_state=model_state)
        if not _is_tx_dict(self.tx) or player not in self.tx:
            raise ValueError(f"unknown player {player!r}; players with optimizers: "
                             f"{sorted(self.tx) if _is_tx_dict(self.tx) else []}")
        updates, player_opt = self.tx[player].update(grads, self.opt_state[player], self.params[player])
        params = dict(self.params)
        params[player] = optax.apply_updates(self.params[player], updates)
        opt_state = dict(self.opt_state)
        opt_state[player] = player_opt
        new = self.replace(params=params, opt_state=opt_state)
        if model_state is not None:
            ms = dict(self.model_state or {})
            ms[player] = model_state
            new = new.replace(model_state=ms)
        return new

    def update_ema(self) -> "TrainState":
        """ema <- decay * ema + (1 - decay) * params (a no-op when EMA is off)."""
        if self.ema_params is None or not self.ema_decay:
            return self
        d = self.ema_decay
        ema = jax.tree.map(lambda e, p: d * e + (1.0 - d) * p, self.ema_params, self.params)
        return self.replace(ema_params=ema)

    def eval_params(self):
        """The params to evaluate and sample with: the EMA when there is one."""
        return self.ema_params if self.ema_params is not None else self.params
