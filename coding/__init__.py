"""mitrain's speech and language pipeline: plain data in, plain data out.

This package never imports flask, sqlalchemy or mitrain (a test enforces it), so
the CLI, the job worker and a notebook can all use it alone.
"""
