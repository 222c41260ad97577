"""What the CLI calls: one `cnndsl train` run (session.py), the start of several training
processes with `--nproc` or torchrun (launch.py), `eval` and `predict` on a run directory
(inference.py), and what they print (report.py).
"""
