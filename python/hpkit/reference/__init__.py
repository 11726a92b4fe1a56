"""Book-style pure-Python (and plain numpy) versions of every workload.

Readable and slow on purpose: they are the oracles the fast paths are tested against and
the baselines the lab times. Each module follows the book's code closely; where the book
has a bug, the module keeps the corrected behaviour and says what the book did.
"""
