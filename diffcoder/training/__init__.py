"""Training the embedded demo model: a small block-diffusion code model on the standard library.

Nothing here runs at inference; the result is an ordinary checkpoint that `load_model` reads.
"""
