"""Optimizers from configs: `make_optimizer(config.optim)` returns one optax transformation."""
from __future__ import annotations

import optax

_OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")


def make_schedule(cfg):
    """Learning-rate schedule: constant or cosine decay, with optional linear warmup."""
    lr = float(cfg.learning_rate)
    warmup = int(cfg.get("warmup_steps", 0) or 0)
    kind = cfg.get("schedule", "constant")
    if kind == "constant":
        main = optax.constant_schedule(lr)
    elif kind == "cosine":
        num_steps = int(cfg.get("num_steps", 0) or 0)
        if num_steps <= warmup:
            raise ValueError(f"cosine schedule needs optim.num_steps > warmup_steps, got {num_steps} <= {warmup}")
        main = optax.cosine_decay_schedule(lr, num_steps - warmup)
    else:
        raise ValueError(f"unknown optim.schedule {kind!r}; expected 'constant' or 'cosine'")
    if warmup:
        return optax.join_schedules([optax.linear_schedule(0.0, lr, warmup), main], [warmup])
    return main


def make_optimizer(cfg) -> optax.GradientTransformation:
    """Builds the optimizer named by `cfg.name`, preceded by global-norm clipping when `cfg.grad_clip_norm` > 0.

    Keys: name (adam|adamw|sgd|rmsprop), learning_rate, b1, b2, eps, weight_decay, momentum,
    grad_clip_norm, warmup_steps, schedule (constant|cosine), num_steps.
    """
    name = cfg.get("name", "adam")
    lr = make_schedule(cfg)
    b1, b2, eps = cfg.get("b1", 0.9), cfg.get("b2", 0.999), cfg.get("eps", 1e-8)
    if name == "adam":
        opt = optax.adam(lr, b1=b1, b2=b2, eps=eps)
    elif name == "adamw":
        opt = optax.adamw(lr, b1=b1, b2=b2, eps=eps, weight_decay=cfg.get("weight_decay", 1e-4))
    elif name == "sgd":
        opt = optax.sgd(lr, momentum=cfg.get("momentum", None) or None)
    elif name == "rmsprop":
        opt = optax.rmsprop(lr, eps=eps)
    else:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {_OPTIMIZERS}")
    clip = cfg.get("grad_clip_norm", None)
    if clip:
        opt = optax.chain(optax.clip_by_global_norm(float(clip)), opt)
    return opt
