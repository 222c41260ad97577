"""Resource bounds of the front end, and of the networks it accepts.

The front end must answer any file, however hostile, with diagnostics in bounded time and
memory; these numbers are where it stops and says so.
"""

# A hand-written network is a few kilobytes (the zoo's largest, Inception v3, 5.5 KB); 128 KiB
# is over twenty times that, and the most that `check` parses in 2 s on a slow core whatever
# the file holds (benchmarks/check_scaling.py).
MAX_FILE_BYTES = 128 * 1024
MAX_PROGRAM_BYTES = MAX_FILE_BYTES  # a file and every file it `use`s, together
MAX_NESTING = 100                   # brackets and braces, counted before parsing
MAX_EXPRESSION_DEPTH = 100          # operators on one path of an expression (`1+1+...+1`)
MAX_STATEMENT_DEPTH = 100           # statements inside statements: braces, `-> shape`, `* N`, labels
MAX_INTEGER = 2**62                 # the magnitude of any integer a file writes or computes
MAX_LITERAL_DIGITS = 19             # digits of an integer literal (2**62 has 19)
MAX_EXPANDED_STATEMENTS = 100_000   # layers after repeats and blocks are unrolled
MAX_CALL_DEPTH = 64                 # nested block calls
MAX_USE_DEPTH = 32                  # chains of `use`
MAX_ACTIVATION_ELEMENTS = 2**31     # per sample, one activation
MAX_PARAMETERS = 2**34
