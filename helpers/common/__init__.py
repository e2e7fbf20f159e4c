"""What every side shares: addresses, printable text, waiting for changes.

Nothing here imports another folder of ``helpers``: the server, the kernel's tools, the
clients and the programs beside the kernel all build on it.
"""
