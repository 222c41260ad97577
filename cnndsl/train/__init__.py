"""Training, evaluating and predicting: everything behind `cnndsl train`, `eval` and `predict`.

The package is a set of rooms, each a subpackage, layered so that each imports only the ones
listed below it (tests/test_layering.py holds the table and checks it):

    commands/     the three commands the CLI calls: one training session, the launch of
                  several processes, eval and predict on a finished run; and what they print
    loop/         the training loop: settings resolved for a run, optimizer and schedule,
                  device, metrics
    rundir/       the run directory: its files, checkpoints, configuration and plots
    distributed/  the processes of one run: ranks, process groups, what they do together
    data/         the data sets: sources, caches, strict file readers, adaptation to the
                  network's input, augmentation, batches on the device
    errors.py     the errors a user can cause, with their exit codes

The schema of the `train { }` section (setting names, types, ranges, data-set names) is not
here but in cnndsl/settings_schema.py, because the compiler checks it too and must not import
the trainer.
"""
