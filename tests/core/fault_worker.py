"""A short run for the fault-injection tests, started as a subprocess (so that it can be killed for real).

    python -m tests.core.fault_worker WORKDIR [STEPS] [slow_rewrite] [slow_save=STEP]

Trains the contextual-bandit toy (tests/core/toys.py: no dataset, environment state in the train state) with
a checkpoint every step. 'slow_rewrite' makes the metrics-file rewrite of a resume pause for 30 s after
writing its temporary file (printing REWRITING first); 'slow_save=STEP' makes the save of that step pause
for 30 s while its temporary directory is half written (printing SAVING first): the test kills it there.
"""
import os
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")


def main():
    workdir = sys.argv[1]
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    from gen_jax.core import logging as log_lib
    from gen_jax.core import loop
    from tests.core.test_contracts import bandit_config

    if "slow_rewrite" in sys.argv:
        original = log_lib.os.replace

        def slow_replace(src, dst):
            if str(dst).endswith("metrics.jsonl"):
                print("REWRITING", flush=True)
                time.sleep(30)
            return original(src, dst)

        log_lib.os.replace = slow_replace
    slow_save = [int(a.split("=")[1]) for a in sys.argv if a.startswith("slow_save=")]
    if slow_save:
        import orbax.checkpoint as ocp

        original_save = ocp.JsonCheckpointHandler.async_save

        async def paused_save(self, directory, *args, **kwargs):
            if f"/{slow_save[0]}.orbax-checkpoint-tmp" in str(directory):
                print("SAVING", directory, flush=True)
                time.sleep(30)
            return await original_save(self, directory, *args, **kwargs)

        ocp.JsonCheckpointHandler.async_save = paused_save
    config = bandit_config(num_train_steps=steps)
    config.checkpoint_every, config.log_every, config.eval_every, config.keep_checkpoints = 1, 1, 5, 100
    loop.train_and_evaluate(config, workdir)
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
