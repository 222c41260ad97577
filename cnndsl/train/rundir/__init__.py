"""The run directory a training run leaves behind and `eval`, `predict` and `--resume` read:
its files, configuration, weights and checkpoints (files.py) and its plots (plots.py).
"""
