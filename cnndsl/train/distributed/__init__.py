"""The processes of one training run: which rank this process is, the process group, and
what the ranks do together (cluster.py). Starting them is `commands/launch.py`'s job.
"""
