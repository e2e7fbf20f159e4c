"""The server under every stage: the plumbing ``start_server`` adds to a student's aiohttp app.

``app`` (doors, connection tracking, the public pages), ``limits``, ``log``, and the defenses
notebook 10 teaches (``admission``, ``headers``, ``join_keys``, ``masks``, ``memory``);
``sio`` holds a python-socketio server to the same limits. Nothing here imports the kernel's
tools, the clients or the checkers.
"""
