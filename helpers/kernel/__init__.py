"""Running servers inside the Jupyter kernel: start, stop, share, hand a port over, show pages.

``lifecycle`` (``start_server``, ``stop_server``), ``share`` (the network address and join
keys), ``handover`` (a port held by another notebook's kernel), ``cells`` (what runs before
each cell), ``show`` (pages in the notebook), ``panel`` (the teacher's view of the server).
"""
