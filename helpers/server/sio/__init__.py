"""A python-socketio server held to the class's limits, one concern a module.

``hold`` finds the server a student attached and installs the rest: ``guards`` (every event
answered), ``refusals`` (what a text chat refuses), ``backlog`` (clients that stop reading),
``sessions`` (newcomers and upgrades), ``fanout`` and ``frames`` (the fast broadcast),
``redis_manager`` (notebook 12). ``internals`` names each library internal relied on, and why.
"""
