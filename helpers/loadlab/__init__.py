"""The load lab of notebook 11: ``lab`` runs and plots loads, ``generator`` is the load itself
(``python -m helpers.loadlab.generator``), in a process of its own."""
