"""The train stage (`lim-tf train`) and what only it uses: losses, optimizers, callbacks, the time
budget, and adaptation from a finished model. `training.train.train` is the stage."""
