"""The training loop and what it is built from: the settings resolved for a run (settings.py),
the optimizer, schedule and loss (recipe.py), the device and its precision (device.py), the
loop and its evaluation pass (trainer.py) and their results (metrics.py).
"""
