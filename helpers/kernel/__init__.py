"""Running servers inside the Jupyter kernel: start, stop, share, hand a port over, show pages.

``lifecycle`` (``start_server``, ``stop_server``), ``share`` and ``join`` (the network
address, the join key, the teacher's card), ``handover`` (a port held by another notebook's
kernel), ``cells`` (what runs before each cell), ``show`` (pages in the notebook), ``panel``
(the teacher's view of the server), ``stall`` (notebook 05's stall test).
"""
